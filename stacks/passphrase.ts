// Pulumi's passphrase secrets provider, reimplemented from its Go source (sdk/go/common/resource/config/crypt.go,
// pkg/secrets/passphrase/manager.go) so the example stack files can carry real `secure:` values and tests can check
// them without the Pulumi CLI:
//   key            = PBKDF2-HMAC-SHA256(passphrase, salt, 1_000_000 iterations, 32 bytes)
//   secure value   = "v1:" + b64(12-byte nonce) + ":" + b64(AES-256-GCM ciphertext || 16-byte tag)
//   encryptionsalt = "v1:" + b64(8-byte salt) + ":" + <secure value of the text "pulumi">
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';

const ITERATIONS = 1_000_000;
const TAG_BYTES = 16;

export function deriveKey(passphrase: string, salt: Buffer): Buffer {
  return pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt, ITERATIONS, 32, 'sha256');
}

export function encryptValue(key: Buffer, plaintext: string, nonce: Buffer = randomBytes(12)): string {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `v1:${nonce.toString('base64')}:${body.toString('base64')}`;
}

export function decryptValue(key: Buffer, value: string): string {
  const parts = value.split(':');
  if (parts.length !== 3 || parts[0] !== 'v1') throw new Error('bad secure value (want v1:<nonce>:<ciphertext>)');
  const nonce = Buffer.from(parts[1]!, 'base64');
  const body = Buffer.from(parts[2]!, 'base64');
  if (nonce.length !== 12 || body.length < TAG_BYTES) throw new Error('bad secure value (nonce or ciphertext size)');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

/** A new `encryptionsalt:` value and its key. */
export function newEncryptionSalt(passphrase: string): { encryptionsalt: string; key: Buffer } {
  const salt = randomBytes(8);
  const key = deriveKey(passphrase, salt);
  return { encryptionsalt: `v1:${salt.toString('base64')}:${encryptValue(key, 'pulumi')}`, key };
}

/** The key for an existing `encryptionsalt:`; throws when the passphrase is wrong (as Pulumi does). */
export function keyFromEncryptionSalt(passphrase: string, encryptionsalt: string): Buffer {
  const first = encryptionsalt.indexOf(':');
  const second = encryptionsalt.indexOf(':', first + 1);
  if (encryptionsalt.slice(0, first) !== 'v1' || second < 0) throw new Error('malformed encryptionsalt');
  const key = deriveKey(passphrase, Buffer.from(encryptionsalt.slice(first + 1, second), 'base64'));
  let check: string;
  try {
    check = decryptValue(key, encryptionsalt.slice(second + 1));
  } catch {
    throw new Error('incorrect passphrase');
  }
  if (check !== 'pulumi') throw new Error('incorrect passphrase');
  return key;
}
