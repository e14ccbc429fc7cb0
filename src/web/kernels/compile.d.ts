// WebAssembly.compile, which src/kernels/webassembly.d.ts (the slice of the API that Node code uses) leaves
// out: the browser kernels compile asynchronously (./wasm-module.ts).
declare namespace WebAssembly {
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
