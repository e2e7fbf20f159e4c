// One load generator for both chat protocols (plain websocket and Socket.IO), so the
// Python and Node servers are measured by the same client code.
//
//   node load.mjs --protocol ws|socketio --port P --clients N --mode fanout|rate|idle|stalled
//                 [--messages M] [--rate R] [--seconds S] [--size B] [--timeout T]
//                 [--deflate on|off] [--readers R]
//
// --deflate on: every client offers permessage-deflate, as browsers and the official clients
//         do by default (the server still chooses); off (the default): no client offers it.
//
// fanout: M messages sent as fast as possible, senders round-robin; every client must get
//         every message (the servers echo to the sender too). Measures deliveries/s.
// rate:   R messages/s in total for S seconds; the latency of every delivery.
// idle:   N open connections doing nothing until stdin closes or SIGTERM (the caller
//         measures the server's memory meanwhile).
// stalled: the worst case of a bound on unsent bytes (ws only). Of N clients, R read and the
//         others stop reading at once (their socket paused, never closed). Once connected it
//         prints {"ready": true}; a line on stdin starts the run: the readers send M messages
//         of --size bytes round-robin, all at once, and it prints {"delivered": true} once every
//         reader has every message or lost its connection (at most --timeout s). When stdin
//         closes, the stalled clients read again: those the server had dropped see their
//         connection end, and the last line counts them (the caller samples the server's memory
//         all along).
//
// stdout carries only JSON lines, the result last (idle: a ready line first; stalled: ready,
// then delivered); progress goes to stderr.
// Exit 0 when the run completed (even with missing messages: the caller judges),
// 1 on bad arguments or a connection that could not be opened.
import WebSocket from 'ws'
import { io } from 'socket.io-client'

const USAGE = 'usage: node load.mjs --protocol ws|socketio --port P --clients N ' +
  '--mode fanout|rate|idle|stalled [--messages M] [--rate R] [--seconds S] [--size B] [--timeout T] ' +
  '[--deflate on|off] [--readers R]'
const BATCH = 50 // connections opened at once: more can overflow a server's accept backlog
const CONNECT_TIMEOUT_MS = 10_000
const STRAGGLERS_MS = 5_000 // rate mode: how long to wait for deliveries after the last send
const MAX_LATENCIES = 50_000_000 // 400 MB of Float64Array: beyond that, refuse the run
const DROPPED_MS = 5_000 // stalled mode: how long the stalled clients read again, to see if they were dropped

function fail (why) {
  process.stderr.write(`load.mjs: ${why}\n`)
  process.exit(1)
}

// ---- arguments -------------------------------------------------------------------------

function parseArgs (argv) {
  const opts = { messages: 1000, rate: 100, seconds: 10, size: 64, timeout: 60, deflate: 'off', readers: 10 }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]
    const value = argv[i + 1]
    if (!key.startsWith('--') || value === undefined) fail(`bad argument ${key}\n${USAGE}`)
    opts[key.slice(2)] = value
  }
  const known = ['protocol', 'port', 'clients', 'mode', 'messages', 'rate', 'seconds', 'size', 'timeout',
    'deflate', 'readers']
  for (const key of Object.keys(opts)) if (!known.includes(key)) fail(`unknown option --${key}\n${USAGE}`)
  if (!['ws', 'socketio'].includes(opts.protocol)) fail(`--protocol must be ws or socketio\n${USAGE}`)
  if (!['fanout', 'rate', 'idle', 'stalled'].includes(opts.mode)) {
    fail(`--mode must be fanout, rate, idle or stalled\n${USAGE}`)
  }
  if (!['on', 'off'].includes(opts.deflate)) fail(`--deflate must be on or off\n${USAGE}`)
  opts.deflate = opts.deflate === 'on'
  const positive = (name, integer) => {
    const n = Number(opts[name])
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      fail(`--${name} must be a positive ${integer ? 'integer' : 'number'}\n${USAGE}`)
    }
    return n
  }
  opts.port = positive('port', true)
  opts.clients = positive('clients', true)
  opts.messages = positive('messages', true)
  opts.rate = positive('rate', false)
  opts.seconds = positive('seconds', false)
  opts.size = positive('size', true)
  opts.timeout = positive('timeout', false)
  opts.readers = positive('readers', true)
  if (opts.mode === 'stalled' && opts.protocol !== 'ws') fail('--mode stalled is for --protocol ws only')
  if (opts.mode === 'stalled' && opts.readers > opts.clients) fail('--readers must be at most --clients')
  if (opts.mode === 'rate' && Math.round(opts.rate * opts.seconds) * opts.clients > MAX_LATENCIES) {
    fail(`rate × seconds × clients is over ${MAX_LATENCIES} deliveries: too many latencies to record`)
  }
  return opts
}

const opts = parseArgs(process.argv.slice(2))
const N = opts.clients

// ---- progress on stderr, at most 5 lines a second ----------------------------------------

let progress = () => '' // the current phase's line; the timer prints it when it changed
let lastProgress = ''
const progressTimer = setInterval(() => {
  const line = progress()
  if (line && line !== lastProgress) process.stderr.write(line + '\n')
  lastProgress = line
}, 200)
progressTimer.unref() // never what keeps the process alive

// ---- receiving: lean, no JSON, digits read straight from the text --------------------------

let finished = false // deliveries after the run ended are ignored
let deliveries = 0
let outOfOrder = 0
let malformed = 0 // texts that are not ours (a server's greeting or refusal, say)
let disconnected = 0 // connections lost after they were open
let target = Infinity // deliveries that end the run
let onTarget = () => {}
let latencies = null // rate mode: Float64Array of every delivery's latency in ms
let nLatencies = 0

// Message text: `${sender} ${seq} ${sentAtMs}` padded with 'x' to --size bytes.
function receive (client, text) {
  if (finished || client.paused) return
  // Two decimal numbers, each ended by a space; anything else is not one of ours.
  const len = text.length
  let i = 0
  let d = 0
  let sender = 0
  let seq = 0
  while (i < len && (d = text.charCodeAt(i++) - 48) >= 0 && d <= 9) sender = sender * 10 + d
  if (d !== -16 || i === 1 || sender >= N) { malformed++; return } // -16: ' ' minus '0'
  const seqStart = i
  while (i < len && (d = text.charCodeAt(i++) - 48) >= 0 && d <= 9) seq = seq * 10 + d
  if (d !== -16 || i === seqStart + 1) { malformed++; return }
  if (latencies !== null) {
    const sentAt = parseFloat(text.slice(i)) // stops at the 'x' padding
    if (!(sentAt >= 0)) { malformed++; return }
    if (nLatencies < latencies.length) latencies[nLatencies++] = performance.now() - sentAt
  }
  // Per sender the servers keep order: each client remembers the last seq from each one.
  const last = client.lastSeq ?? (client.lastSeq = new Int32Array(N).fill(-1))
  if (seq <= last[sender]) outOfOrder++
  else last[sender] = seq
  client.received++
  if (++deliveries === target) onTarget()
}

function messageText (sender, seq) {
  return `${sender} ${seq} ${performance.now().toFixed(3)}`.padEnd(opts.size, 'x')
}

// ---- connecting ---------------------------------------------------------------------------

let stopping = false

function lost (client, why) {
  if (stopping || client.lost) return
  client.lost = true
  if (disconnected++ === 0) process.stderr.write(`client ${client.index} disconnected: ${why}\n`)
}

// Resolves with a client { index, send(text), close(), received } once it is open.
function connect (index) {
  return new Promise((resolve, reject) => {
    const client = {
      index, received: 0, lastSeq: null, lost: false, paused: false, send: null, close: null, ws: null
    }
    let open = false
    const timer = setTimeout(() => {
      client.close?.()
      reject(new Error(`client ${index}: not open after ${CONNECT_TIMEOUT_MS} ms`))
    }, CONNECT_TIMEOUT_MS)
    const opened = () => { open = true; clearTimeout(timer); resolve(client) }
    const refused = (error) => {
      clearTimeout(timer)
      if (open) return lost(client, error.message)
      client.close?.()
      reject(new Error(`client ${index}: ${error.message || error}`))
    }
    if (opts.protocol === 'ws') {
      // Offered or not as --deflate says: a browser always offers it, and the server chooses.
      const ws = new WebSocket(`ws://127.0.0.1:${opts.port}/`, { perMessageDeflate: opts.deflate })
      client.ws = ws
      client.send = text => ws.send(text)
      client.close = () => ws.terminate()
      client.closed = new Promise(resolve => ws.once('close', resolve))
      ws.on('message', (data, isBinary) => receive(client, isBinary ? '' : data.toString()))
      ws.once('open', opened)
      ws.on('error', refused)
      ws.once('close', (code) => { if (open) lost(client, `closed with ${code}`) })
    } else {
      const socket = io(`http://127.0.0.1:${opts.port}`, {
        transports: ['websocket'],
        forceNew: true, // one engine.io connection per client, not one shared manager
        reconnection: false, // a lost connection shows up as missing messages
        // on: the client's own default (deflate offered, as a browser's page does); off: refused
        ...(opts.deflate ? {} : { perMessageDeflate: false })
      })
      client.send = text => socket.emit('chat message', text)
      client.close = () => socket.disconnect()
      client.closed = Promise.resolve()
      socket.on('chat message', msg => receive(client, typeof msg === 'string' ? msg : ''))
      socket.once('connect', opened)
      socket.on('connect_error', refused)
      socket.on('disconnect', reason => { if (open) lost(client, reason) })
    }
  })
}

async function connectAll () {
  const clients = []
  progress = () => `connected ${clients.length}/${N}`
  try {
    for (let i = 0; i < N; i += BATCH) {
      const batch = []
      for (let j = i; j < Math.min(i + BATCH, N); j++) batch.push(connect(j))
      clients.push(...await Promise.all(batch))
    }
  } catch (error) {
    stopping = true
    for (const client of clients) client.close()
    fail(`connection failed: ${error.message}`)
  }
  process.stderr.write(`connected ${N}/${N}\n`)
  return clients
}

async function closeAll (clients) {
  stopping = true
  for (const client of clients) client.close()
  // ws: wait for the sockets to be gone (bounded); socket.io's disconnect() is immediate.
  await Promise.race([
    Promise.all(clients.map(client => client.closed)),
    new Promise(resolve => setTimeout(resolve, 2000))
  ])
}

function report (result) {
  process.stdout.write(JSON.stringify(result) + '\n')
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Resolves once `expected` deliveries are in, or after `ms` (whichever first).
function deliveriesOrTimeout (expected, ms) {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms)
    target = expected
    onTarget = () => { clearTimeout(timer); resolve() }
    if (deliveries >= expected) onTarget()
  })
}

// ---- modes --------------------------------------------------------------------------------

async function fanout (clients) {
  const M = opts.messages
  const expected = N * M
  progress = () => `received ${Math.floor(100 * deliveries / expected)}% (${deliveries}/${expected})`
  let end = 0
  const done = new Promise(resolve => {
    target = expected
    onTarget = () => { end = performance.now(); resolve() }
  })
  const cpu = process.cpuUsage()
  const start = performance.now()
  // All sends in one loop, none awaited: the servers get the messages as fast as we can write.
  for (let k = 0; k < M; k++) clients[k % N].send(messageText(k % N, k))
  const timedOut = await Promise.race([done.then(() => false), sleep(opts.timeout * 1000).then(() => true)])
  if (timedOut) end = performance.now()
  finished = true
  const seconds = (end - start) / 1000
  report({
    mode: 'fanout',
    protocol: opts.protocol,
    clients: N,
    messages: M,
    deliveries,
    expected,
    seconds: round(seconds, 3),
    deliveries_per_s: round(deliveries / seconds, 1),
    out_of_order: outOfOrder,
    missing: expected - deliveries,
    malformed,
    disconnected,
    loader_cpu_pct: cpuPercent(cpu, end - start)
  })
}

async function rate (clients) {
  const R = opts.rate
  const total = Math.max(1, Math.round(R * opts.seconds)) // messages to send
  const expected = total * N
  latencies = new Float64Array(expected)
  let sent = 0
  progress = () => `sent ${sent}/${total}, received ${Math.floor(100 * deliveries / expected)}%`
  const cpu = process.cpuUsage()
  const start = performance.now()
  // A 1 ms timer sends whatever is due by now: message k is due at k/R s, so the average rate
  // holds even when a tick comes late (the late ones go out together).
  await new Promise(resolve => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) * R / 1000) + 1)
      for (; sent < due; sent++) clients[sent % N].send(messageText(sent % N, sent))
      if (sent === total) { clearInterval(timer); resolve() }
    }
    const timer = setInterval(tick, 1)
    tick()
  })
  await deliveriesOrTimeout(expected, STRAGGLERS_MS)
  finished = true
  const loaderCpu = cpuPercent(cpu, performance.now() - start)
  const sorted = latencies.subarray(0, nLatencies).sort() // a typed array sorts numerically
  const rank = p => sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] : null
  report({
    mode: 'rate',
    protocol: opts.protocol,
    clients: N,
    rate: R,
    seconds: opts.seconds,
    messages: total,
    deliveries,
    expected,
    p50_ms: round(rank(0.5), 3),
    p99_ms: round(rank(0.99), 3),
    max_ms: round(rank(1), 3),
    missing: expected - deliveries,
    out_of_order: outOfOrder,
    malformed,
    disconnected,
    loader_cpu_pct: loaderCpu
  })
}

async function idle (clients) {
  report({ mode: 'idle', protocol: opts.protocol, clients: N, deflate: opts.deflate, ready: true })
  progress = () => disconnected ? `${N - disconnected}/${N} still open` : ''
  await listenToStdin().closed
}

// Idle and stalled modes hold their connections until whoever started us closes our stdin or
// sends SIGTERM: `closed` resolves then; `line` resolves at the first line (true) or then (false).
function listenToStdin () {
  let sawLine = () => {}
  const line = new Promise(resolve => { sawLine = resolve })
  const closed = new Promise(resolve => {
    process.stdin.setEncoding('utf8')
    process.stdin.on('data', text => { if (text.includes('\n')) sawLine(true) })
    for (const event of ['end', 'close', 'error']) process.stdin.on(event, resolve)
    process.on('SIGTERM', resolve)
    process.on('SIGINT', resolve)
  })
  closed.then(() => sawLine(false))
  return { line, closed }
}

async function stalled (clients) {
  const R = opts.readers
  const M = opts.messages
  const readers = clients.slice(0, R)
  const stuck = clients.slice(R)
  for (const client of stuck) {
    client.ws.pause() // stops reading: the kernel's buffers fill, then the server's
    client.paused = true // what ws still had read is not counted
  }
  const stdin = listenToStdin()
  report({ mode: 'stalled', clients: N, readers: R, ready: true })
  const go = await stdin.line
  const got = () => Math.min(...readers.map(client => client.received))
  if (go) {
    const expected = R * M
    progress = () => `readers received ${deliveries}/${expected}`
    const start = performance.now()
    // All sends in one loop, none awaited: the worst case for whatever the server buffers.
    for (let k = 0; k < M; k++) readers[k % R].send(messageText(k % R, k))
    // Until every reader has every message or is gone (only readers count: the others don't read).
    const deadline = start + opts.timeout * 1000
    while (performance.now() < deadline && !readers.every(client => client.lost || client.received >= M)) {
      await sleep(10)
    }
    report({ delivered: true, seconds: round((performance.now() - start) / 1000, 3), min_per_reader: got() })
  }
  await stdin.closed
  finished = true
  // A paused client can't see its connection end: it reads again, and a dropped one meets the end
  // of its connection after what the kernel still held for it.
  for (const client of stuck) client.ws.resume()
  const readersLost = readers.filter(client => client.lost).length
  progress = () => `stalled clients: ${stuck.filter(client => client.lost).length} closed`
  const deadline = performance.now() + DROPPED_MS
  while (performance.now() < deadline && !stuck.every(client => client.lost)) await sleep(50)
  report({
    mode: 'stalled',
    clients: N,
    readers: R,
    messages: M,
    size: opts.size,
    sent: go,
    min_per_reader: got(),
    every_reader_all: go && got() === M,
    readers_disconnected: readersLost,
    stalled: stuck.length,
    stalled_dropped: stuck.filter(client => client.lost).length,
    out_of_order: outOfOrder,
    malformed
  })
}

// This process's CPU time (all its threads) over `ms` of wall time, in percent of one core:
// near 100 the load generator, not the server, may be what limits the run.
function cpuPercent (since, ms) {
  const { user, system } = process.cpuUsage(since)
  return round((user + system) / 10 / ms, 1)
}

function round (x, digits) {
  return x === null || !Number.isFinite(x) ? null : Number(x.toFixed(digits))
}

const clients = await connectAll()
await { fanout, rate, idle, stalled }[opts.mode](clients)
await closeAll(clients)
process.exit(0)
