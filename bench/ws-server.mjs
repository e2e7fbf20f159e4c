// The original tutorial's broadcast server (Express + ws), kept as written there so
// `make bench` measures the Node code the workbook's Python server is compared with.
// Usage: node ws-server.mjs [--port 3000] [--quiet]
// --quiet leaves out the tutorial's line per message (the only change to its code), so the
// bench also shows what that logging costs.
import { fileURLToPath } from 'node:url'
import express from 'express'
import { WebSocketServer, WebSocket } from 'ws'

const portArg = process.argv.indexOf('--port')
const port = portArg === -1 ? 3000 : Number(process.argv[portArg + 1])
const quiet = process.argv.includes('--quiet')
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node ws-server.mjs [--port 3000] [--quiet]')
  process.exit(1)
}

const app = express()
// The tutorial serves its pages next to the server; here they live in ../public.
app.use(express.static(fileURLToPath(new URL('../public', import.meta.url))))

// 127.0.0.1 only: a benchmark server has no business listening on the network.
const server = app.listen(port, '127.0.0.1', error => {
  if (error) throw error
  console.log(`Listening at port ${port}`)
})

const wsServer = new WebSocketServer({ noServer: true })

// The tutorial's helper: despite its name it sends to the sender too, the
// "except self" check is left commented out (the tutorial's default).
wsServer.broadcastExceptSelf = function broadcastExceptSelf (ws, data) {
  let clients = 0
  wsServer.clients.forEach(client => {
    // if (client === ws) return
    if (client.readyState === WebSocket.OPEN) {
      clients++
      // ws hands us a Buffer; send it as a text frame like the Python server does.
      client.send(data, { binary: false })
    }
  })
  if (!quiet) console.log(`Broadcasted data to ${clients} (${wsServer.clients.size}) clients.`)
}

wsServer.on('connection', ws => {
  ws.on('message', data => {
    if (!quiet) console.log(`ws got: ${data}`)
    wsServer.broadcastExceptSelf(ws, data)
  })
})

// Express only answers HTTP; the upgrade to a websocket is handed to ws here.
server.on('upgrade', (req, socket, head) => {
  wsServer.handleUpgrade(req, socket, head, ws => wsServer.emit('connection', ws, req))
})

// The bench stops us with SIGTERM: drop the clients and leave with status 0.
function stop () {
  for (const client of wsServer.clients) client.terminate()
  server.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
