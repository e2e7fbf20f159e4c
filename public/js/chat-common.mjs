/**
 * What the chat pages share: where the websocket is, the output log, the status line,
 * and a connection that comes back by itself when the server does.
 */

/**
 * The websocket URL of the server that served this page: same host, same path prefix,
 * ws: or wss: as the page is http: or https:. Never hard-coded, so the page also works
 * behind a proxy that serves it under a prefix such as /user/ada/proxy/3000/.
 */
export function websocketUrl (location = window.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const directory = location.pathname.replace(/[^/]*$/, '')
  return `${scheme}//${location.host}${directory}`
}

/**
 * Add a timestamped line to the output area. textContent, never innerHTML: a message
 * is shown as the text it is, and can't run a script.
 */
export function outputLog (output, data) {
  const timestamp = new Date().toLocaleTimeString()
  output.textContent += `${timestamp} ${data}\n`
  output.scrollTop = output.scrollHeight
}

/**
 * Show the connection state in the status line.
 */
export function showStatus (status, text, state) {
  status.textContent = text
  status.className = `status ${state}`
}

/**
 * Keep a websocket open to `url`: tell `onOpen`, `onMessage` and `onClose` what happens,
 * and when the connection drops (or never came), try again every `retryMs` milliseconds.
 * Returns a function giving the current socket (or null while there is none).
 */
export function keepConnected (url, { onOpen, onMessage, onClose, retryMs = 2000 }) {
  let websocket = null

  function connect () {
    const socket = new WebSocket(url)
    socket.onopen = () => {
      websocket = socket
      onOpen()
    }
    socket.onmessage = (event) => onMessage(event.data)
    socket.onclose = (event) => {
      const wasOpen = websocket === socket
      websocket = null
      onClose(wasOpen, event)
      setTimeout(connect, retryMs)
    }
  }

  connect()
  return () => websocket
}
