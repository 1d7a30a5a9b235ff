// The stock graphql-ws client follows one task with `retryAttempts` and, when given, a
// `resumeKey` in its connection params. It re-sends the subscription with its original
// variables (after: 0) on every reconnect, as it always does. Prints one JSON line per
// connection and per event; exits after the task's COMPLETED event.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, taskId, resumeKey] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const connectionParams = { authorization: `Bearer ${token}` };
if (resumeKey) connectionParams.resumeKey = resumeKey;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams,
  retryAttempts: 50,
  // The default retries close events only; a restarting server refuses the connection
  // (an error event) for a moment, which is worth retrying too.
  shouldRetry: () => true,
  // A short, fixed wait keeps the test quick; the default backs off exponentially.
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 200)),
  on: {
    connected: () => print({ connected: true }),
    closed: (event) => print({ closed: event.code }),
  },
});

const query = `subscription Follow($taskId: ID!, $after: Int) {
  taskUpdates(taskId: $taskId, after: $after) { type seq }
}`;
await new Promise((resolve, reject) => {
  const unsubscribe = client.subscribe(
    { query, variables: { taskId, after: 0 } },
    {
      next: ({ data, errors }) => {
        if (errors) return reject(new Error(JSON.stringify(errors)));
        print({ seq: data.taskUpdates.seq, type: data.taskUpdates.type });
        if (data.taskUpdates.type === "COMPLETED") {
          unsubscribe();
          resolve();
        }
      },
      error: (error) => reject(error instanceof Error ? error : new Error(String(error.code ?? error))),
      complete: () => resolve(),
    },
  );
});
await client.dispose();
