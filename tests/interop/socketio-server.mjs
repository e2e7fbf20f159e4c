/**
 * A socket.io 4.8 chat server as in the official "Get started" tutorial, as a reference peer
 * for the interop tests: every `chat message` goes to everyone (the sender too).
 *
 *   node tests/interop/socketio-server.mjs PORT
 *
 * Listens on 127.0.0.1 only; prints `Listening at port N` when ready, then one line per
 * event: `a user connected`, `message: ...`, `user disconnected`.
 */
import { createServer } from 'node:http'
import express from 'express'
import { Server } from 'socket.io'

const port = Number(process.argv[2] ?? 3000)
const app = express()
const server = createServer(app)
const io = new Server(server)

io.on('connection', (socket) => {
  console.log('a user connected')
  socket.on('chat message', (msg) => {
    console.log(`message: ${msg}`)
    io.emit('chat message', msg)
  })
  socket.on('disconnect', () => {
    console.log('user disconnected')
  })
})

server.listen(port, '127.0.0.1', () => {
  console.log(`Listening at port ${server.address().port}`)
})

process.on('SIGTERM', () => process.exit(0))
