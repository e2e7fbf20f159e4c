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
 * Add a timestamped line to the output area. textContent, never innerHTML: a message
 * is shown as the text it is, and can't run a script.
 */
export function outputLog (output, data) {
  output.textContent += `${clock()} ${data}\n`
  output.scrollTop = output.scrollHeight
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
 * Keep a websocket open to `url`: tell `onOpen`, `onMessage` and `onClose` what happens,
 * and when the connection drops (or never came), try again, less and less often
 * (`RETRY_DELAYS`), until it is back. `onClose` hears of each outage once.
 * Returns a function giving the current socket (or null while there is none).
 */
export function keepConnected (url, { onOpen, onMessage, onClose, delays = RETRY_DELAYS }) {
  let websocket = null
  let attempt = 0
  let outage = false

  function connect () {
    const socket = new WebSocket(url)
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
      setTimeout(connect, delays[Math.min(attempt++, delays.length - 1)])
    }
  }

  connect()
  return () => websocket
}
