/**
 * A socket.io-client 4.8 peer for the interop tests, driven line by line over stdin/stdout:
 *
 *   node tests/interop/socketio-client.mjs URL [websocket|polling]
 *
 * The transport defaults to the client's own default: HTTP long-polling, then the upgrade
 * to a websocket; `websocket` or `polling` uses only that one.
 * Prints `connected` once connected, then `got: MSG` for every `chat message` it receives.
 * Each line read on stdin is emitted as a `chat message`. Disconnects and exits when stdin closes.
 */
import { createInterface } from 'node:readline'
import { io } from 'socket.io-client'

const url = process.argv[2]
const transport = process.argv[3]
const options = { reconnection: false, timeout: 5000 }
if (transport) options.transports = [transport]
const socket = io(url, options)

socket.on('connect', () => console.log('connected'))
socket.on('connect_error', (error) => {
  console.log(`connect_error: ${error.message}`)
  process.exit(1)
})
socket.on('chat message', (msg) => console.log(`got: ${msg}`))

createInterface({ input: process.stdin }).on('line', (line) => {
  socket.emit('chat message', line)
}).on('close', () => {
  socket.close() // then Node exits by itself, once the goodbye has gone out (polling: a POST)
})
