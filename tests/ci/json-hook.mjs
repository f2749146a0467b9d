// A module-loader hook for tests/ci/check.mjs: @actions/workflow-parser
// imports its schema (a .json file) without `with { type: "json" }`, which
// Node 20 refuses; this adds the attribute to .json imports that lack it.
export async function load(url, context, next) {
  if (url.endsWith(".json") && !(context.importAttributes && context.importAttributes.type))
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: "json" } });
  return next(url, context);
}
