// Follows one task's events over GraphQL with a stock HTTP streaming client, until a given seq:
//   node streams.mjs sse|multipart <taskId> <after> <untilSeq>
// sse: the graphql-sse client (distinct connections); multipart: Apollo Client's HttpLink.
// Prints the seqs it received as JSON.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createClient } from "graphql-sse";

const [mode, taskId, after, untilSeq] = process.argv.slice(2);
const url = `${process.env.AGENTWIRE_URL}/graphql`;
const headers = { Authorization: `Bearer ${process.env.AGENTWIRE_TOKEN}` };
const query = `subscription($t: ID!, $a: Int) { taskUpdates(taskId: $t, after: $a) { seq type } }`;
const variables = { t: taskId, a: Number(after) };
const seqs = [];

if (mode === "sse") {
  const client = createClient({ url, headers, retryAttempts: 0 });
  for await (const result of client.iterate({ query, variables })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    seqs.push(result.data.taskUpdates.seq);
    if (seqs.at(-1) === Number(untilSeq)) break;
  }
  client.dispose();
} else {
  const client = new ApolloClient({ link: new HttpLink({ uri: url, headers }), cache: new InMemoryCache() });
  await new Promise((resolve, reject) => {
    const subscription = client.subscribe({ query: gql(query), variables }).subscribe({
      next: ({ data, error }) => {
        if (error) return reject(error);
        seqs.push(data.taskUpdates.seq);
        if (seqs.at(-1) === Number(untilSeq)) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
}
console.log(JSON.stringify(seqs));
