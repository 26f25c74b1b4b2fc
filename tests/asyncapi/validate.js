// Validates an AsyncAPI document with the official parser (@asyncapi/parser): prints every
// diagnostic as `severity path: message` and exits 1 when one is an error (or the document
// cannot be parsed at all), 0 otherwise. Usage: node validate.js FILE
'use strict';

const fs = require('fs');
const { Parser } = require('@asyncapi/parser');

const SEVERITY = ['error', 'warning', 'info', 'hint'];

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node validate.js FILE');
    process.exit(2);
  }
  const text = fs.readFileSync(file, 'utf8');
  const { document, diagnostics } = await new Parser().parse(text);
  let errors = 0;
  for (const d of diagnostics) {
    const severity = SEVERITY[d.severity] || String(d.severity);
    if (d.severity === 0) errors += 1;
    console.log(`${severity} ${d.path.join('.')}: ${d.message}`);
  }
  if (!document || errors > 0) {
    console.log(`invalid: ${errors} errors`);
    process.exit(1);
  }
  console.log(`valid: AsyncAPI ${document.version()}, ${document.channels().length} channels, ${document.operations().length} operations, ${document.components().messages().length} messages`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
