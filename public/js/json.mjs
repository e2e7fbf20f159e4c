/**
 * The JSON chat page: messages are objects with a `type` (see notebook 06 for the table).
 */
import {
  keepConnected, keyRefused, outputLog, rememberKey, sentAway, shown, showStatus, websocketUrl
} from './chat-common.mjs'

const output = document.getElementById('output')
const status = document.getElementById('status')
const nick = document.getElementById('nick')
const message = document.getElementById('message')

/**
 * One line of text for each message the server sends. What clients wrote (nicknames, texts)
 * is `shown`: its controls escaped, each isolated from the rest of the line.
 */
export function describe (msg) {
  const [nick, text] = [shown(msg.nick), shown(msg.text)]
  switch (msg.type) {
    case 'chat': return `${nick}: ${text}`
    case 'me': return `* ${nick} ${text}`
    case 'join': return `* ${nick} joined`
    case 'leave': return `* ${nick} left`
    case 'rename': return `* ${shown(msg.old)} is now ${nick}`
    case 'users': return `Online: ${msg.users.map(shown).join(', ')}`
    case 'error': return `Error: ${shown(msg.error)}`
    default: return `(unknown message) ${shown(JSON.stringify(msg))}`
  }
}

let url = websocketUrl()
const websocket = keepConnected(() => url, {
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
    if (msg.type === 'key' && typeof msg.key === 'string') { // the teacher gave the chat a new key
      rememberKey(msg.key)
      url = websocketUrl()
      outputLog(output, 'The chat has a new key: this page keeps it (the address bar has it).')
      return
    }
    outputLog(output, describe(msg))
  },
  onClose (wasOpen, event) {
    if (sentAway(event.code)) {
      outputLog(output, `Removed from the chat: ${shown(event.reason || 'by the server')}`)
      showStatus(status, 'Not connected: removed from the chat.', 'disconnected')
      return
    }
    if (wasOpen) outputLog(output, 'Websocket is now closed.')
    showStatus(status, 'Not connected to a server. Retrying...', 'disconnected')
  },
  checkRefusal: () => keyRefused(), // refused for its key: say so, and stop trying
  onRefused (why) {
    outputLog(output, why)
    showStatus(status, why, 'disconnected')
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
