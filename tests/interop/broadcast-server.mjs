/**
 * The original tutorial's broadcast server, as a reference peer for the interop tests:
 * Express serves nothing in particular, `ws` takes the upgrade on the same HTTP server, and
 * every message goes to every open client (the sender too).
 *
 *   node tests/interop/broadcast-server.mjs PORT
 *
 * Listens on 127.0.0.1 only and logs as the tutorial does: `Listening at port N`,
 * `ws got: ...`, `Broadcasted data to N (M) clients.`
 */
import express from 'express'
import WebSocket, { WebSocketServer } from 'ws'

const port = Number(process.argv[2] ?? 3000)
const app = express()
const wsServer = new WebSocketServer({
  noServer: true,
  clientTracking: true
})

wsServer.broadcastExceptSelf = (ws, data) => {
  let clients = 0

  wsServer.clients.forEach((client) => {
    if (client.readyState === WebSocket.OPEN) {
      clients++
      client.send(data, { binary: false })
    }
  })
  console.log(`Broadcasted data to ${clients} (${wsServer.clients.size}) clients.`)
}

wsServer.on('connection', (ws) => {
  ws.on('message', (data) => {
    console.log(`ws got: ${data}`)
    wsServer.broadcastExceptSelf(ws, data)
  })
})

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`Listening at port ${server.address().port}`)
})

server.on('upgrade', (request, socket, head) => {
  wsServer.handleUpgrade(request, socket, head, (socket) => {
    wsServer.emit('connection', socket, request)
  })
})

process.on('SIGTERM', () => process.exit(0))
