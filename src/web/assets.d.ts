// The browser bundle embeds the kernel builds with esbuild's binary loader (src/web/bundle.ts): importing a
// .wasm file gives its bytes.
declare module "*.wasm" {
  const bytes: Uint8Array;
  export default bytes;
}
