import { useEffect, useRef, useState } from 'preact/hooks';
import { CHAT_TYPES, type AiService, type ChatMessage, type ChatType, type ServedBy } from '../aiService.js';
import { loadPrefs } from '../prefs.js';
import { reportError } from '../telemetry.js';
import { describeError, type ShownError } from './errorText.js';
import { CHAT_TYPE_LABELS } from './labels.js';

interface Entry extends ChatMessage {
  servedBy?: ServedBy;
  requestId?: string;
}

type Conversations = Record<ChatType, Entry[]>;

const emptyConversations = (): Conversations =>
  Object.fromEntries(CHAT_TYPES.map((t) => [t, [] as Entry[]])) as unknown as Conversations;

export function ChatView({ ai }: { ai: AiService }) {
  const prefs = useRef(loadPrefs());
  const [chatType, setChatType] = useState<ChatType>(prefs.current.preferredChatType);
  const [conversations, setConversations] = useState<Conversations>(emptyConversations);
  const [draft, setDraft] = useState('');
  const [busy, setBusy] = useState(false);
  const [streaming, setStreaming] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<(ShownError & { chatType: ChatType; text: string }) | undefined>();
  const abortRef = useRef<AbortController | undefined>(undefined);
  const logRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const retryRef = useRef<HTMLButtonElement>(null);

  const messages = conversations[chatType];

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages, streaming]);

  // An error takes the focus to its Retry button, so keyboard and screen-reader users land on the way out.
  useEffect(() => {
    if (error) retryRef.current?.focus();
  }, [error]);

  useEffect(() => () => abortRef.current?.abort(), []);

  async function send(type: ChatType, text: string, history: Entry[]) {
    const ctl = new AbortController();
    abortRef.current = ctl;
    setBusy(true);
    setError(undefined);
    setStreaming('');
    setStatus('FUD Buddy is answering…');
    const hint = loadPrefs().modelHint;
    try {
      const reply = await ai.sendMessage(
        type,
        history.map(({ role, content }) => ({ role, content })),
        text,
        { signal: ctl.signal, onDelta: (_d, soFar) => setStreaming(soFar), metadata: hint ? { model_hint: hint } : undefined },
      );
      setConversations((c) => ({
        ...c,
        [type]: [...c[type], { role: 'assistant', content: reply.content, servedBy: reply.servedBy, requestId: reply.requestId }],
      }));
      setStatus(reply.servedBy === 'fallback' ? 'Answer complete (answered by fallback).' : 'Answer complete.');
    } catch (err) {
      const shown = describeError(err);
      if (shown) {
        reportError(err);
        setError({ ...shown, chatType: type, text });
        setStatus('');
      } else {
        setStatus('Stopped.');
      }
    } finally {
      setStreaming('');
      setBusy(false);
      abortRef.current = undefined;
    }
  }

  function onSubmit(ev: Event) {
    ev.preventDefault();
    const text = draft.trim();
    if (!text || busy) return;
    const history = conversations[chatType];
    setConversations((c) => ({ ...c, [chatType]: [...c[chatType], { role: 'user', content: text }] }));
    setDraft('');
    inputRef.current?.focus(); // the Send button turns into Stop: keep the focus somewhere stable
    void send(chatType, text, history);
  }

  function onRetry() {
    if (!error || busy) return;
    const { chatType: type, text } = error;
    const list = conversations[type];
    // The unanswered question is the last entry; resend it with the history before it.
    const history = list.at(-1)?.role === 'user' ? list.slice(0, -1) : list;
    setChatType(type);
    void send(type, text, history);
    inputRef.current?.focus();
  }

  function onKeyDown(ev: KeyboardEvent) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      (ev.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
    }
  }

  return (
    <section class="chat" aria-labelledby="chat-title">
      <h1 id="chat-title" class="sr-only" tabIndex={-1}>
        Chat
      </h1>
      <fieldset class="types">
        <legend>Chat type</legend>
        {CHAT_TYPES.map((t) => (
          <label key={t} class={t === chatType ? 'type selected' : 'type'}>
            <input
              type="radio"
              name="chat-type"
              value={t}
              checked={t === chatType}
              onChange={() => {
                setChatType(t);
                setError(undefined);
              }}
              aria-describedby={`hint-${t}`}
            />
            <span>{CHAT_TYPE_LABELS[t].title}</span>
            <span id={`hint-${t}`} class="sr-only">
              {CHAT_TYPE_LABELS[t].hint}
            </span>
          </label>
        ))}
      </fieldset>

      <ol class="log" ref={logRef} role="log" aria-live="polite" aria-busy={busy} aria-label="Conversation" data-testid="log">
        {messages.length === 0 && !busy && (
          <li class="empty">Ask about {CHAT_TYPE_LABELS[chatType].hint.toLowerCase()}.</li>
        )}
        {messages.map((m, i) => (
          <li key={i} class={`msg ${m.role}`} data-served-by={m.servedBy}>
            <span class="sr-only">{m.role === 'user' ? 'You: ' : 'FUD Buddy: '}</span>
            <span class="text">{m.content}</span>
            {m.servedBy === 'fallback' && (
              <span class="fallback" title="Our own server was busy or down; a backup model answered." data-testid="fallback-mark">
                answered by fallback
              </span>
            )}
          </li>
        ))}
        {busy && (
          <li class="msg assistant streaming" data-testid="streaming">
            <span class="sr-only">FUD Buddy: </span>
            <span class="text">{streaming || '…'}</span>
          </li>
        )}
      </ol>

      <p class="sr-only" role="status">
        {status}
      </p>

      {error && (
        <div class="error" role="alert" data-testid="error">
          <p class="error-title">{error.title}</p>
          <p>{error.detail}</p>
          <p class="rid">
            Request id: <code data-testid="request-id">{error.requestId}</code>
          </p>
          {error.canRetry && (
            <button type="button" ref={retryRef} onClick={onRetry} disabled={busy}>
              Retry
            </button>
          )}
        </div>
      )}

      <form class="composer" onSubmit={onSubmit}>
        <label for="message">Message</label>
        <div class="row">
          <textarea
            id="message"
            ref={inputRef}
            rows={2}
            maxLength={4000}
            value={draft}
            onInput={(e) => setDraft((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={onKeyDown}
            placeholder={`${CHAT_TYPE_LABELS[chatType].title}: ask anything`}
            aria-describedby="send-hint"
          />
          {busy ? (
            <button type="button" class="stop" onClick={() => abortRef.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" disabled={!draft.trim()}>
              Send
            </button>
          )}
        </div>
        <p id="send-hint" class="hint">
          Enter sends, Shift+Enter adds a line.
        </p>
      </form>
    </section>
  );
}
