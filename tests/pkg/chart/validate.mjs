// validate.mjs -- check rendered Kubernetes manifests against the API's
// schemas (kubernetes-models: types, required fields, formats, enums) and
// print them flattened, one "Kind.path=value" line per leaf (value as
// JSON), for the shell to assert on.
//
//   node validate.mjs MANIFEST.yaml
//
// Exit status 1, with the object and the schema errors, if an object is
// invalid or of a kind the API does not have.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const docs = parseAllDocuments(readFileSync(process.argv[2], "utf8"));
let bad = 0;

function flatten(prefix, v, out) {
  if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v))
      flatten(`${prefix}${Array.isArray(v) ? `[${k}]` : `.${k}`}`, x, out);
  } else {
    out.push(`${prefix}=${JSON.stringify(v)}`);
  }
}

for (const doc of docs) {
  if (doc.errors.length) {
    console.error(`YAML: ${doc.errors[0].message}`);
    bad++;
    continue;
  }
  const obj = doc.toJS();
  if (!obj) continue;
  const where = `${obj.kind} ${obj.metadata?.name}`;
  const group = obj.apiVersion?.includes("/") ? obj.apiVersion : `${obj.apiVersion}`;
  let Model;
  try {
    Model = (await import(`kubernetes-models/${group}`))[obj.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) {
    console.error(`${where}: no such kind in ${obj.apiVersion}`);
    bad++;
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    console.error(`${where}: ${e.message}`);
    bad++;
    continue;
  }
  const out = [];
  flatten(obj.kind, obj, out);
  console.log(out.join("\n"));
}
process.exit(bad ? 1 : 0);
