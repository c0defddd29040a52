import { useState } from 'preact/hooks';
import { CHAT_TYPES, type ChatType } from '../aiService.js';
import type { WebConfig } from '../config.js';
import { MODEL_HINT_PATTERN, loadInviteCode, loadPrefs, saveInviteCode, savePrefs } from '../prefs.js';
import { CHAT_TYPE_LABELS } from './labels.js';

export function ConfigPage({ config }: { config: WebConfig }) {
  const initial = loadPrefs();
  const [chatType, setChatType] = useState<ChatType>(initial.preferredChatType);
  const [modelHint, setModelHint] = useState(initial.modelHint);
  const [invite, setInvite] = useState(loadInviteCode());
  const [status, setStatus] = useState('');
  const hintValid = MODEL_HINT_PATTERN.test(modelHint);

  function onSubmit(ev: Event) {
    ev.preventDefault();
    if (!hintValid) {
      setStatus('Not saved: the model hint may only use letters, digits and . _ : / - (up to 64).');
      return;
    }
    const ok = savePrefs({ preferredChatType: chatType, modelHint });
    saveInviteCode(invite.trim());
    setStatus(ok ? 'Saved.' : 'Not saved: this browser does not allow local storage.');
  }

  return (
    <section class="config" aria-labelledby="config-title">
      <h1 id="config-title" tabIndex={-1}>
        Settings
      </h1>
      <p class="note">Kept on this device only. These are preferences, not secrets: never put a password or key here.</p>
      <form onSubmit={onSubmit}>
        <label for="pref-type">Preferred chat type</label>
        <select id="pref-type" value={chatType} onChange={(e) => setChatType((e.currentTarget as HTMLSelectElement).value as ChatType)}>
          {CHAT_TYPES.map((t) => (
            <option key={t} value={t}>
              {CHAT_TYPE_LABELS[t].title}
            </option>
          ))}
        </select>

        <label for="pref-model">Model hint (optional)</label>
        <input
          id="pref-model"
          type="text"
          value={modelHint}
          maxLength={64}
          autoComplete="off"
          spellcheck={false}
          aria-invalid={!hintValid}
          aria-describedby="pref-model-help"
          onInput={(e) => setModelHint((e.currentTarget as HTMLInputElement).value)}
        />
        <p id="pref-model-help" class="hint">
          Sent as a hint; the server picks the model.
        </p>

        <label for="pref-invite">Invite code (beta, optional)</label>
        <input
          id="pref-invite"
          type="text"
          value={invite}
          maxLength={128}
          autoComplete="off"
          spellcheck={false}
          aria-describedby="pref-invite-help"
          onInput={(e) => setInvite((e.currentTarget as HTMLInputElement).value)}
        />
        <p id="pref-invite-help" class="hint">
          Kept for this tab only, and sent only to get a session token.
        </p>

        <button type="submit">Save</button>
        <p role="status" class="saved">
          {status}
        </p>
      </form>

      <h2>About this build</h2>
      <dl class="build">
        <dt>Environment</dt>
        <dd>{config.env}</dd>
        <dt>API</dt>
        <dd>
          <code>{config.apiBaseUrl}</code>
        </dd>
        <dt>Client id</dt>
        <dd>
          <code>{config.clientId}</code>
        </dd>
      </dl>
    </section>
  );
}
