// Follows one task with the stock @durable-streams/client, from the start to its `completed`
// event: catch-up read, then live (`long-poll` or `sse`, the first argument). Prints
// `caught-up` once it has read everything stored, then the JSON list of the seqs it saw.
import { stream } from "@durable-streams/client";

const [mode, taskId] = process.argv.slice(2);
const base = process.env.AGENTWIRE_URL;
const token = process.env.AGENTWIRE_TOKEN;
const res = await stream({
  url: `${base}/api/agent/${taskId}/events`,
  offset: "-1",
  live: mode,
  headers: { Authorization: `Bearer ${token}` },
});
const seqs = [];
let caughtUp = false;
await new Promise((resolve, reject) => {
  res.closed.catch(reject);
  res.subscribeJson((batch) => {
    for (const event of batch.items) seqs.push(event.seq);
    if (batch.items.some((event) => event.type === "completed")) {
      res.cancel();
      resolve();
    } else if (batch.upToDate && !caughtUp) {
      caughtUp = true;
      console.log("caught-up");
    }
  });
});
console.log(JSON.stringify(seqs));
