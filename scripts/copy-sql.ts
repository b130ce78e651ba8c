// Part of `npm run build`: tsc emits only JavaScript, but migrations and statements are .sql files
// read at run time beside the modules that use them.
import { cpSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
cpSync(`${root}src`, `${root}dist/src`, {
  recursive: true,
  filter: (source) => statSync(source).isDirectory() || source.endsWith('.sql'),
});
