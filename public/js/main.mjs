/**
 * The chat page: send what you type over a websocket, show what the server says.
 */
import { keepConnected, keyRefused, outputLog, sentAway, shown, showStatus, websocketUrl } from './chat-common.mjs'

const form = document.getElementById('chat')
const message = document.getElementById('message')
const output = document.getElementById('output')
const status = document.getElementById('status')

const url = websocketUrl()
console.log(`Connecting to: ${url}`)

const websocket = keepConnected(url, {
  onOpen () {
    outputLog(output, 'The websocket is now open.')
    showStatus(status, `Connected to ${url}`, 'connected')
  },
  async onMessage (data) {
    const text = await new Response(data).text()
    outputLog(output, `Server said: ${shown(text)}`)
  },
  onClose (wasOpen, event) {
    if (wasOpen) {
      outputLog(output, 'Websocket is now closed.')
    }
    if (sentAway(event.code)) { // the server sent this page away on purpose: no retrying
      showStatus(status, 'Not connected: the server closed this page\'s connection.', 'disconnected')
      return
    }
    showStatus(status, 'Not connected to a server. Retrying...', 'disconnected')
  },
  checkRefusal: keyRefused, // refused for its key: say so, and stop trying
  onRefused (why) {
    outputLog(output, why)
    showStatus(status, why, 'disconnected')
  }
})

form.addEventListener('submit', (event) => {
  event.preventDefault()
  const socket = websocket()
  const messageText = message.value

  if (!socket) {
    outputLog(output, 'The websocket is not connected to a server.')
  } else {
    socket.send(messageText)
    outputLog(output, `You said: ${shown(messageText)}`)
    message.value = ''
  }
})
