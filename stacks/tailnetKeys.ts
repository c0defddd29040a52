// Auth keys for nodes that carry more than one tag (the edge box that also runs monitoring, or a GPU host that
// also plays the edge). The Tailnet component mints one-tag keys; these follow the same rules (single use,
// preauthorized, short expiry, created after the policy that defines the tags).
import * as pulumi from '@pulumi/pulumi';
import * as tailscale from '@pulumi/tailscale';

export function multiTagKey(hostname: string, tags: string[], acl: pulumi.Resource): pulumi.Output<string> {
  const key = new tailscale.TailnetKey(
    `tailnet-key-${hostname}`,
    {
      description: `fudbuddy ${hostname}`.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 50),
      preauthorized: true,
      reusable: false,
      ephemeral: false,
      expiry: 3600,
      tags,
      recreateIfInvalid: 'never',
    },
    { dependsOn: [acl], additionalSecretOutputs: ['key'] },
  );
  return pulumi.secret(key.key);
}
