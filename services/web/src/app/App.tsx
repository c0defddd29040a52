import { useEffect, useMemo, useState } from 'preact/hooks';
import { createAiService } from '../aiService.js';
import { config } from '../config.js';
import { loadInviteCode } from '../prefs.js';
import { ChatView } from './ChatView.js';
import { ConfigPage } from './ConfigPage.js';

type Route = 'chat' | 'config';
const routeOf = (hash: string): Route => (hash === '#/config' ? 'config' : 'chat');

export function App() {
  const [route, setRoute] = useState<Route>(() => routeOf(location.hash));
  const ai = useMemo(() => createAiService({ baseUrl: config.apiBaseUrl, clientId: config.clientId, inviteCode: loadInviteCode }), []);

  // Fetch the session token while the user is still reading, so the first answer starts sooner. A failure
  // here is not shown: sending a message retries it and reports it properly.
  useEffect(() => {
    void ai.getToken().catch(() => undefined);
  }, [ai]);

  useEffect(() => {
    const onHash = () => {
      const next = routeOf(location.hash);
      setRoute(next);
      // Moving between pages: put the focus on the new page's heading, as a page load would.
      requestAnimationFrame(() => document.getElementById(next === 'config' ? 'config-title' : 'chat-title')?.focus());
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          FUD Buddy
        </a>
        {config.env !== 'production' && <span class="env">{config.env}</span>}
        <nav aria-label="Main">
          <a href="#/" aria-current={route === 'chat' ? 'page' : undefined}>
            Chat
          </a>
          <a href="#/config" aria-current={route === 'config' ? 'page' : undefined}>
            Settings
          </a>
        </nav>
      </header>
      <main>
        {/* The chat stays mounted while Settings is open, so a conversation survives a visit there. */}
        <div hidden={route !== 'chat'}>
          <ChatView ai={ai} />
        </div>
        {route === 'config' && <ConfigPage config={config} />}
      </main>
    </>
  );
}
