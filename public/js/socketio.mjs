/**
 * The Socket.IO chat page: the official get-started client, plus the homework (nicknames,
 * typing, who is online, private messages, rooms) and delivery (offsets, acks, retries).
 * Against the plain `socketio` stage only `chat message` does anything.
 */
import { joinKey, keyRefused, outputLog, rememberKey, shown, showStatus } from './chat-common.mjs'

const VERSION = '4.8.4' // the version pinned in package.json

/**
 * The official client, from the npm package the server serves at vendor/socket.io/, or
 * from the official CDN at the same version when node_modules is absent.
 */
async function loadClient () {
  try {
    return (await import('../vendor/socket.io/socket.io.esm.min.js')).io
  } catch {
    return (await import(`https://cdn.socket.io/${VERSION}/socket.io.esm.min.js`)).io
  }
}

/**
 * The Socket.IO path of the server that served this page: this page's directory + socket.io,
 * so the page also works behind a proxy prefix such as /user/ada/proxy/3000/.
 */
export function socketioPath (location = window.location) {
  return `${location.pathname.replace(/[^/]*$/, '')}socket.io`
}

const element = (id) => document.getElementById(id)
const [output, status, typingLine] = [element('output'), element('status'), element('typing')]
const [nick, room, to, message] = [element('nick'), element('room'), element('to'), element('message')]
const show = (line) => outputLog(output, line)

const io = await loadClient()
const clientId = Math.random().toString(36).slice(2, 10)
const resumeKey = Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
  byte.toString(16).padStart(2, '0')).join('')
let counter = 0
const mine = new Set() // client offsets of the messages this page sent
// No global `retries`: it would queue every emit behind the previous one's ack (and an event
// without a handler is never acknowledged), and resend requests that must not run twice.
const key = joinKey() // a server shared on the network asks every request for it
const socket = io({
  path: socketioPath(),
  query: key === null ? {} : { key },
  reconnectionDelayMax: 10000, // retry less and less often, as the other pages do
  // serverOffset: the last chat message seen, the server replays what came after; resumeKey:
  // a secret of this page's (never sent to others, unlike clientId in every client offset), so
  // that a server it reconnects to gives it back its nickname (notebook 12)
  auth: { serverOffset: 0, resumeKey }
})

// Refused for its key (none, or an old one): the page asks why, says so, and stops trying.
socket.on('connect_error', async () => {
  const why = await keyRefused()
  if (why === null || socket.connected) return
  socket.disconnect() // no more reconnection attempts
  show(why)
  showStatus(status, why, 'disconnected')
})
// The teacher gave the chat a new key (someone was removed): kept for the next connection,
// and in the address bar, so that a reload opens the chat.
socket.on('key', (newKey) => {
  if (typeof newKey !== 'string') return
  socket.io.opts.query = { ...socket.io.opts.query, key: newKey }
  rememberKey(newKey)
  show('The chat has a new key: this page keeps it (the address bar has it).')
})

socket.on('connect', () => {
  show('Connected.')
  showStatus(status, `Connected to ${socketioPath()}`, 'connected')
})
socket.on('disconnect', (reason) => {
  show(`Disconnected (${reason}).`)
  showStatus(status, 'Not connected. Reconnecting...', 'disconnected')
  // A server that stops says goodbye ('io server disconnect'), after which socket.io-client
  // would not retry on its own: ask it to, so the page comes back with the server.
  if (reason === 'io server disconnect') socket.connect()
})
socket.on('chat message', (msg, serverOffset, clientOffset) => {
  if (Number.isInteger(serverOffset)) socket.auth.serverOffset = serverOffset
  if (mine.has(clientOffset)) return // our own message, replayed: shown when we sent it
  show(shown(msg))
})
// What clients wrote (nicknames, texts) is `shown`: controls escaped, isolated from the line.
socket.on('refused', (answer) => show(`Refused: ${shown(answer?.error ?? answer)}`)) // too fast...
socket.on('user connected', (who) => show(`* ${shown(who)} connected`))
socket.on('user disconnected', (who) => show(`* ${shown(who)} disconnected`))
socket.on('nick changed', (old, now) => show(`* ${shown(old)} is now ${shown(now)}`))
socket.on('private message', (from, text) => show(`(private) ${shown(from)}: ${shown(text)}`))
socket.on('room message', (where, from, text) => show(`[${shown(where)}] ${shown(from)}: ${shown(text)}`))

const typists = new Set()
socket.on('typing', (who, isTyping) => {
  if (isTyping) typists.add(shown(who)); else typists.delete(shown(who))
  typingLine.textContent = typists.size ? `${[...typists].join(', ')} typing...` : ''
})

/**
 * Emit `event` and wait for the acknowledgement; show a refusal ({error}) and return null.
 * Sent once: a request repeated after a lost acknowledgement could be done twice.
 */
async function request (event, ...args) {
  try {
    const answer = await socket.timeout(5000).emitWithAck(event, ...args)
    if (answer && answer.error) {
      show(`Error: ${shown(answer.error)}`)
      return null
    }
    return answer
  } catch {
    show(`No answer to ${event}.`)
    return null
  }
}

/**
 * Deliver a chat message exactly once: resend until acknowledged, always with the same
 * client offset, so the server stores (and broadcasts) a resent message only once.
 */
async function deliver (text, tries = 4) {
  const clientOffset = `${clientId}-${counter++}`
  mine.add(clientOffset)
  for (let i = 0; i < tries; i++) {
    try {
      const answer = await socket.timeout(5000).emitWithAck('chat message', text, clientOffset)
      if (answer && answer.error) show(`Error: ${shown(answer.error)}`)
      if (answer && Number.isInteger(answer.id)) {
        socket.auth.serverOffset = Math.max(socket.auth.serverOffset, answer.id)
      }
      return
    } catch {} // no acknowledgement in time: send it again
  }
  show(`Not delivered: ${shown(text)}`)
}

element('nick-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  socket.auth.nick = nick.value // used again at every reconnection
  await request('nick', nick.value)
})
element('who').addEventListener('click', async () => {
  const answer = await request('who')
  if (answer) show(`Online: ${answer.users.map(shown).join(', ')}`)
})
element('room-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const answer = await request('join', room.value)
  if (answer) show(`You joined ${shown(answer.room)}: ${answer.members.map(shown).join(', ')}`)
})
element('leave').addEventListener('click', async () => {
  if (await request('leave', room.value)) show(`You left ${shown(room.value)}`)
})

let typing = false
message.addEventListener('input', () => {
  if (typing !== Boolean(message.value)) {
    typing = Boolean(message.value)
    socket.volatile.emit('typing', typing) // volatile: dropped, not buffered, while disconnected
  }
})

element('chat').addEventListener('submit', async (event) => {
  event.preventDefault()
  const [text, target] = [message.value, to.value.trim()]
  if (!text) return
  message.value = ''
  message.dispatchEvent(new Event('input'))
  if (!target) {
    show(`You said: ${shown(text)}`) // at once: the server does not send it back to us
    await deliver(text)
  } else if (target.startsWith('#')) {
    // shown once the server took it: a refusal ("join '#tea' first") shows instead
    if (await request('room message', target, text)) show(`You [${shown(target)}]: ${shown(text)}`)
  } else if (await request('private message', target, text)) {
    show(`You to ${shown(target)}: ${shown(text)}`)
  }
})
