/**
 * What the chat pages share: where the websocket is, the output log, the status line,
 * and a connection that comes back by itself when the server does.
 */

/**
 * The join key in this page's own link (`chat.html?key=...`), or null. A server shared on
 * the network lets a connection in only with it; the page itself was served without one.
 */
export function joinKey (location = window.location) {
  return new URLSearchParams(location.search).get('key')
}

/**
 * The websocket URL of the server that served this page: same host, same path prefix,
 * ws: or wss: as the page is http: or https:, and the page's join key if it has one.
 * Never hard-coded, so the page also works behind a proxy that serves it under a prefix
 * such as /user/ada/proxy/3000/.
 */
export function websocketUrl (location = window.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const directory = location.pathname.replace(/[^/]*$/, '')
  const key = joinKey(location)
  const query = key === null ? '' : `?${new URLSearchParams({ key })}`
  return `${scheme}//${location.host}${directory}${query}`
}

/**
 * Characters a client could use to fake or reorder what others read: control characters
 * (a newline would start a fake line, ESC starts terminal sequences), the line and paragraph
 * separators, and the bidi formatting characters (U+202E, RIGHT-TO-LEFT OVERRIDE, turns the
 * rest of a line around).
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

const NAMED = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * `text` with each character of `CONTROLS` shown as its escape (`\n`, `\x1b`, `\u202e`):
 * visible, and inert. The same escapes as the server's log and the widgets (`helpers/common/text.py`).
 */
export function escapeControls (text) {
  return String(text).replace(CONTROLS, (c) => {
    if (c in NAMED) return NAMED[c]
    const code = c.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** A letter of a right-to-left script (Hebrew, Arabic, Syriac, Thaana, N'Ko...). */
const RIGHT_TO_LEFT = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe]|[\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u
const [ISOLATE, END_ISOLATE] = ['\u2068', '\u2069'] // FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE

/**
 * A client's text (a nickname, a message) as it can be shown inside a line: its controls
 * escaped, and, when it has right-to-left letters, isolated (as `<bdi>` does) so that it
 * can't move the text around it (a Hebrew nickname before a Hebrew message would otherwise
 * swap places with it). Text without such letters has nothing to reorder: left as it is.
 */
export function shown (text) {
  const safe = escapeControls(text)
  return RIGHT_TO_LEFT.test(safe) ? `${ISOLATE}${safe}${END_ISOLATE}` : safe
}

/**
 * Add a timestamped line to the output area. textContent, never innerHTML: a message
 * is shown as the text it is, and can't run a script. Its controls are escaped too (the
 * isolates of `shown` kept): a line is one line, read left to right, whatever was sent.
 * Each line of the output is its own bidi paragraph: nothing reorders across lines.
 */
export function outputLog (output, data) {
  const line = String(data).replace(CONTROLS, (c) => (c === ISOLATE || c === END_ISOLATE ? c : escapeControls(c)))
  output.textContent += `${clock()} ${line}\n`
  output.scrollTop = output.scrollHeight
}

/**
 * The message a page shows, and stops, when the server refuses its join key.
 */
export const NEEDS_KEY = 'This chat needs the link with its key: ask your teacher.'

/**
 * Where this page asks whether its key opens the server's door: `join-key-check` beside
 * the page (behind a proxy prefix too), with the page's key.
 */
export function keyCheckUrl (location = window.location, key = joinKey(location)) {
  const url = new URL('join-key-check', location.href)
  url.search = key === null ? '' : `?${new URLSearchParams({ key })}`
  return url.href
}

/**
 * After a failed connection: ask the server whether the key was the reason. A browser shows
 * a page no refused handshake's status, so the page asks `keyCheckUrl()`: 403 means the key
 * is missing or old (resolves to `NEEDS_KEY`); anything else (204, a server that is down, an
 * older server without the check) resolves to null: keep trying.
 */
export async function keyRefused (url = keyCheckUrl()) {
  try {
    const answer = await fetch(url, { cache: 'no-store' })
    return answer.status === 403 ? NEEDS_KEY : null
  } catch {
    return null
  }
}

/**
 * The server handed this page a new join key (the teacher removed someone): keep it in the
 * address bar, so that a reload opens the chat, and for the next connection.
 */
export function rememberKey (key, location = window.location) {
  const url = new URL(location.href)
  url.searchParams.set('key', key)
  window.history.replaceState(window.history.state, '', url.href)
}

/**
 * The time as HH:MM:SS, 24-hour, whatever the browser's locale: as the notebook's widgets show it.
 */
export function clock (date = new Date()) {
  const two = (n) => String(n).padStart(2, '0')
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
}

/**
 * Show the connection state in the status line.
 */
export function showStatus (status, text, state) {
  status.textContent = text
  status.className = `status ${state}`
}

/**
 * A close code of the application's own range (4000-4999): the server sent this client away
 * on purpose (a teacher removed it), so the page does not reconnect.
 */
export const sentAway = (code) => code >= 4000 && code < 5000

/**
 * Waits between attempts to reconnect, in milliseconds: 1, 2, 4, 8, then every 10 seconds.
 */
export const RETRY_DELAYS = [1000, 2000, 4000, 8000, 10000]

/**
 * Keep a websocket open to `url` (a string, or a function giving the URL of each attempt):
 * tell `onOpen`, `onMessage` and `onClose` what happens, and when the connection drops (or
 * never came), try again, less and less often (`RETRY_DELAYS`), until it is back. `onClose`
 * hears of each outage once. With `checkRefusal` (e.g. `keyRefused`), a failed attempt asks
 * it why: a reason (not null) goes to `onRefused`, and the page stops trying.
 * Returns a function giving the current socket (or null while there is none).
 */
export function keepConnected (url, { onOpen, onMessage, onClose, checkRefusal, onRefused, delays = RETRY_DELAYS }) {
  let websocket = null
  let attempt = 0
  let outage = false
  const address = typeof url === 'function' ? url : () => url

  function connect () {
    const socket = new WebSocket(address())
    socket.onopen = () => {
      websocket = socket
      attempt = 0
      outage = false
      onOpen()
    }
    socket.onmessage = (event) => onMessage(event.data)
    socket.onclose = (event) => {
      const wasOpen = websocket === socket
      websocket = null
      if (!outage) onClose(wasOpen, event) // once per outage, not at every failed attempt
      outage = true
      if (sentAway(event.code)) return // removed on purpose: coming back would be rude
      const retry = () => setTimeout(connect, delays[Math.min(attempt++, delays.length - 1)])
      if (wasOpen || !checkRefusal) return retry()
      checkRefusal().then((refused) => (refused === null ? retry() : onRefused(refused)))
    }
  }

  connect()
  return () => websocket
}
