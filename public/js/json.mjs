/**
 * The JSON chat page: messages are objects with a `type` (see notebook 06 for the table).
 */
import { keepConnected, outputLog, sentAway, showStatus, websocketUrl } from './chat-common.mjs'

const output = document.getElementById('output')
const status = document.getElementById('status')
const nick = document.getElementById('nick')
const message = document.getElementById('message')

/**
 * One line of text for each message the server sends.
 */
export function describe (msg) {
  switch (msg.type) {
    case 'chat': return `${msg.nick}: ${msg.text}`
    case 'me': return `* ${msg.nick} ${msg.text}`
    case 'join': return `* ${msg.nick} joined`
    case 'leave': return `* ${msg.nick} left`
    case 'rename': return `* ${msg.old} is now ${msg.nick}`
    case 'users': return `Online: ${msg.users.join(', ')}`
    case 'error': return `Error: ${msg.error}`
    default: return `(unknown message) ${JSON.stringify(msg)}`
  }
}

const url = websocketUrl()
const websocket = keepConnected(url, {
  onOpen () {
    outputLog(output, 'The websocket is now open.')
    showStatus(status, `Connected to ${url}`, 'connected')
    if (nick.value) sendJson({ type: 'nick', nick: nick.value })
  },
  onMessage (data) {
    let msg
    try {
      msg = JSON.parse(data)
    } catch {
      outputLog(output, `Server said (not JSON): ${data}`)
      return
    }
    outputLog(output, describe(msg))
  },
  onClose (wasOpen, event) {
    if (sentAway(event.code)) {
      outputLog(output, `Removed from the chat: ${event.reason || 'by the server'}`)
      showStatus(status, 'Not connected: removed from the chat.', 'disconnected')
      return
    }
    if (wasOpen) outputLog(output, 'Websocket is now closed.')
    showStatus(status, 'Not connected to a server. Retrying...', 'disconnected')
  }
})

function sendJson (msg) {
  const socket = websocket()
  if (!socket) {
    outputLog(output, 'The websocket is not connected to a server.')
    return false
  }
  socket.send(JSON.stringify(msg))
  return true
}

document.getElementById('nick-form').addEventListener('submit', (event) => {
  event.preventDefault()
  sendJson({ type: 'nick', nick: nick.value })
})

document.getElementById('who').addEventListener('click', () => sendJson({ type: 'users' }))

document.getElementById('chat').addEventListener('submit', (event) => {
  event.preventDefault()
  if (sendJson({ type: 'chat', text: message.value })) message.value = ''
})
