// The bundle's entry point (installer/build-agent.ts): drydock-agent.exe starts here.
import { start } from './executable';

start();
