/**
 * The attacker of the agent-channel bench, in a process of its own so that the bystander's latency
 * measures the API, not the attacker's own event loop: `attacker.ts polls <apiUrl> <agentKey> <n>`
 * opens n long-polls with one agent key at once; `attacker.ts documents <apiUrl> - <n>` posts n
 * unauthenticated 1 MiB GraphQL documents at once. Prints how they were answered as JSON.
 */
async function main(): Promise<void> {
  const [mode, apiUrl, agentKey, count] = process.argv.slice(2);
  const n = Number(count);
  const body = Buffer.from(JSON.stringify({ query: `{ ${'tenant { id } '.repeat(75_000)} }` }));
  const one = (): Promise<number> =>
    (mode === 'polls'
      ? fetch(`${apiUrl}/v1/agent/tasks?wait=30`, { headers: { authorization: `Bearer ${agentKey}` } })
      : fetch(`${apiUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).then(
      async (r) => (await r.arrayBuffer(), r.status),
      () => 0,
    );
  const statuses = await Promise.all(Array.from({ length: n }, one));
  const answers: Record<string, number> = {};
  for (const s of statuses)
    answers[s === 0 ? 'reset' : String(s)] = (answers[s === 0 ? 'reset' : String(s)] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ answers, bytes: mode === 'polls' ? 0 : body.length })}\n`);
}

main().catch((err) => {
  process.stderr.write(`attacker failed: ${(err as Error).message}\n`);
  process.exit(1);
});
