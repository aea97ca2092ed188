// Validates Kubernetes manifests offline against the API schemas of the kubernetes-models packages.
//
//   HYMBA_DEPLOY_TOOLS=build/deploy-tools node tests/deploy/k8s_validate.mjs FILE... (- = stdin)
//
// Each YAML document (parsed strictly: duplicate keys are errors) must name a kind that
// kubernetes-models or @kubernetes-models/prometheus-operator knows, and must pass
//   * the package's JSON-schema validation (required fields, types, formats, enums), and
//   * a strict field check like `kubectl apply --validate=strict`: every key must be a field of its
//     type, read from the packages' .d.ts declarations (the compiled schemas allow unknown keys).
// Prints one line per problem and a summary; exits 0 when none, 1 otherwise, 2 on bad usage.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const tools = path.resolve(process.env.HYMBA_DEPLOY_TOOLS || "build/deploy-tools");
const require = createRequire(path.join(tools, "package.json"));
const YAML = require("yaml");

const PACKAGES = ["kubernetes-models", "@kubernetes-models/prometheus-operator"];

// Returns [module specifier, model class] for apiVersion + kind, or null when no package has it.
function modelFor(apiVersion, kind) {
  const groupVersion = apiVersion.includes("/") ? apiVersion : `v1`;
  for (const pkg of PACKAGES) {
    const spec = `${pkg}/${groupVersion}/${kind}`;
    try {
      return [spec, require(spec)[kind]];
    } catch {
      // Not in this package.
    }
  }
  return null;
}

// --- Field shapes from .d.ts files ---------------------------------------------------------------
// A shape is null (a scalar or anything goes), a string (the .d.ts file of a referenced
// interface, loaded on first use), or { fields: Map<name, shape>, open: bool } for an object;
// Array<T> is transparent (each element is checked against T).
const shapeCache = new Map();

function importsOf(text, file) {
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    const target = m[2].startsWith(".")
      ? path.resolve(path.dirname(file), m[2]) + ".d.ts"
      : require.resolve(m[2]).replace(/\.js$/, ".d.ts");
    for (const name of m[1].split(",")) imports.set(name.trim(), target);
  }
  return imports;
}

function parseInterface(file) {
  const text = fs.readFileSync(file, "utf8");
  const imports = importsOf(text, file);
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^export interface \w+( extends [\w, ]+)? \{$/.test(l));
  if (start < 0) return null; // A type alias (Quantity, IntOrString, Time): a scalar.
  const root = { fields: new Map(), open: false };
  const stack = [root];
  for (const raw of lines.slice(start + 1)) {
    const line = raw.trim();
    if (raw === "}") break;
    if (line.startsWith("/**") || line.startsWith("*")) continue;
    const top = stack[stack.length - 1];
    if (line.startsWith("[key: string]")) {
      top.open = true;
      if (line.endsWith("{")) stack.push({ fields: new Map(), open: true });
      continue;
    }
    if (/^}/.test(line)) {
      stack.pop();
      continue;
    }
    const m = line.match(/^"([^"]+)"\??: (.*)$/);
    if (!m) continue;
    const [, name, type] = m;
    if (/\{$/.test(type)) {
      const nested = { fields: new Map(), open: false };
      top.fields.set(name, nested);
      stack.push(nested);
      continue;
    }
    const ref = type.match(/^(?:Array<)?(\w+)>?;$/);
    top.fields.set(name, ref && imports.has(ref[1]) ? imports.get(ref[1]) : null);
  }
  return root;
}

function resolveShape(shape) {
  if (typeof shape !== "string") return shape;
  if (!shapeCache.has(shape)) shapeCache.set(shape, parseInterface(shape));
  return shapeCache.get(shape);
}

function checkFields(value, shape, where, problems) {
  shape = resolveShape(shape);
  if (!shape || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkFields(item, shape, `${where}[${i}]`, problems));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (shape.fields.has(key)) {
      checkFields(child, shape.fields.get(key), `${where}.${key}`, problems);
    } else if (!shape.open) {
      problems.push(`${where}.${key}: unknown field "${key}"`);
    }
  }
}

// --- Documents -----------------------------------------------------------------------------------
function validateDocument(doc) {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return ["not a mapping"];
  if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") {
    return ["apiVersion and kind must be strings"];
  }
  const found = modelFor(doc.apiVersion, doc.kind);
  if (!found) return [`unknown kind ${doc.apiVersion} ${doc.kind}`];
  const [spec, Model] = found;
  const problems = [];
  try {
    new Model(structuredClone(doc)).validate();
  } catch (err) {
    problems.push(String(err.message).replace(/^data/, "").replace(/, data/g, ";"));
  }
  const declaration = require.resolve(spec).replace(/\.js$/, ".d.ts");
  if (!resolveShape(declaration)) problems.push(`no field list in ${declaration}`);
  checkFields(doc, declaration, doc.kind, problems);
  return problems;
}

function main(files) {
  if (files.length === 0) {
    console.error("usage: k8s_validate.mjs FILE... (- for stdin)");
    return 2;
  }
  let documents = 0;
  let failures = 0;
  for (const file of files) {
    const text = fs.readFileSync(file === "-" ? 0 : file, "utf8");
    for (const parsed of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
      if (parsed.contents === null) continue; // Comments only.
      documents += 1;
      const name = `${file}#${documents}`;
      const errors = parsed.errors.map((e) => e.message);
      const doc = errors.length ? null : parsed.toJS();
      const label = doc ? `${name} ${doc.kind}/${doc.metadata?.name ?? "?"}` : name;
      for (const problem of errors.length ? errors : validateDocument(doc)) {
        console.log(`${label}: ${problem}`);
        failures += 1;
      }
    }
  }
  console.log(`${documents} documents, ${failures} problems`);
  return failures === 0 && documents > 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
