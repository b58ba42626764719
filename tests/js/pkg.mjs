// The package under test, through its Node entry (as `import "fact-resilience"` resolves in Node).
export * from "../../bindings-wasm/js/entry/node.js";
