// `drydock up` runs the demo fleet through this entry, in its own process, with the enrollment
// key in the environment rather than on a command line.
import { main } from './main';

main([
  process.argv[0]!,
  'drydock',
  'harness',
  ...(JSON.parse(process.env.DRYDOCK_HARNESS_ARGS ?? '[]') as string[]),
]);
