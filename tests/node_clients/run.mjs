// Runs one task through agentwire's AG-UI adapter with the stock HttpAgent: submit, get
// interrupted by the approval, resume with changed parameters, finish. Prints a JSON summary.
import { HttpAgent } from "@ag-ui/client";
import { randomUUID } from "node:crypto";

const base = process.env.AGENTWIRE_URL;
const token = process.env.AGENTWIRE_TOKEN;
const threadId = randomUUID();
const agent = new HttpAgent({
  url: `${base}/ag-ui/tasks`,
  headers: { Authorization: `Bearer ${token}` },
  threadId,
});
const seen = [];
const record = { onEvent: ({ event }) => seen.push(event.type) };

agent.messages = [{ id: randomUUID(), role: "user", content: "two notes, the second approved" }];
await agent.runAgent(
  {
    forwardedProps: {
      context: {
        steps: [
          { name: "first", action: "note", params: { key: "a", value: 1 } },
          { name: "second", action: "note", params: { key: "b", value: 2 }, requiresApproval: true },
        ],
      },
    },
  },
  record,
);
const interrupts = agent.pendingInterrupts.map((i) => ({ id: i.id, reason: i.reason }));
const firstRun = [...seen];
seen.length = 0;
await agent.runAgent(
  {
    resume: interrupts.map((i) => ({
      interruptId: i.id,
      status: "resolved",
      payload: { approved: true, modifiedParameters: { key: "b", value: 3 } },
    })),
  },
  record,
);
console.log(
  JSON.stringify({
    threadId,
    firstRun,
    interrupts,
    secondRun: seen,
    state: agent.state,
    pendingAfter: agent.pendingInterrupts.length,
  }),
);
