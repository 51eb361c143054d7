// Validates the committed OpenAPI document: it must match the official OpenAPI 3.1 JSON
// schema, and every "$ref" in it must point at something that exists. Exit 1 otherwise.
// Usage: node check.mjs <openapi.json>
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node check.mjs <openapi.json>");
  process.exit(2);
}
const spec = JSON.parse(await readFile(file, "utf8"));
const problems = [];

if (!String(spec.openapi).startsWith("3.1.")) {
  problems.push(`openapi is ${spec.openapi}, expected 3.1.x`);
}

const validator = new Validator();
const result = await validator.validate(spec);
if (!result.valid) {
  for (const e of result.errors ?? []) {
    problems.push(`schema: ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params ?? {})}`);
  }
}

// Every local $ref resolves (a JSON pointer into this document).
function resolve(pointer) {
  let node = spec;
  for (const raw of pointer.replace(/^#\//, "").split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}
let refs = 0;
function walk(node, path) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => walk(item, `${path}/${i}`));
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") {
        refs += 1;
        if (!value.startsWith("#/")) problems.push(`${path}: external $ref ${value}`);
        else if (resolve(value) === undefined) problems.push(`${path}: dangling $ref ${value}`);
      } else {
        walk(value, `${path}/${key}`);
      }
    }
  }
}
walk(spec, "");

if (problems.length > 0) {
  console.error(`${file}: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
const operations = Object.values(spec.paths ?? {}).reduce((n, item) => n + Object.keys(item).length, 0);
console.log(`${file}: valid OpenAPI ${spec.openapi} (${operations} operations, ${refs} $refs, all resolve)`);
