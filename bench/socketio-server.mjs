// The official socket.io tutorial's chat server (socket.io 4.8), as written there, so
// `make bench` compares the Python Socket.IO server with the reference one.
// Usage: node socketio-server.mjs [--port 3000]
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { Server } from 'socket.io'

const portArg = process.argv.indexOf('--port')
const port = portArg === -1 ? 3000 : Number(process.argv[portArg + 1])
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node socketio-server.mjs [--port 3000]')
  process.exit(1)
}

const app = express()
// The tutorial serves index.html; the workbook's pages live in ../public.
app.use(express.static(fileURLToPath(new URL('../public', import.meta.url))))
const httpServer = createServer(app)
const io = new Server(httpServer)

io.on('connection', socket => {
  console.log('a user connected')
  socket.on('chat message', msg => {
    console.log('message: ' + msg)
    io.emit('chat message', msg) // to everyone, the sender included
  })
  socket.on('disconnect', () => console.log('user disconnected'))
})

// 127.0.0.1 only: a benchmark server has no business listening on the network.
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`Listening at port ${port}`)
})

// The bench stops us with SIGTERM: io.close() disconnects everyone and closes the
// http server; we leave with status 0 without waiting for slow peers.
function stop () {
  io.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
