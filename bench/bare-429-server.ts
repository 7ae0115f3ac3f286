// The control in the rate-limit isolation scenario: a bare HTTP server, in a process of its own,
// that answers every request 429 at once, as our api answers a key over its limit. The noisy
// client fires at it instead of the api, so the calm key's latency shows what a client firing as
// fast as it can costs on cores it shares with everything else, before the api does any work for
// it. Prints its URL on the first line.
import http from "node:http";
import type { AddressInfo } from "node:net";

const body = JSON.stringify({ statusCode: 429, error: "rate_limited", message: "more than 50 requests per second; retry in 1 s" });
const headers = {
  "content-type": "application/json; charset=utf-8",
  "content-length": Buffer.byteLength(body),
  "x-ratelimit-limit": "50",
  "x-ratelimit-remaining": "0",
  "x-ratelimit-reset": "1",
  "retry-after": "1",
};
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(429, headers).end(body));
});
server.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
