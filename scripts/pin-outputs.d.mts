// Types of scripts/pin-outputs.mjs (plain JavaScript, so that it runs under bare node against any checkout), for
// test/pinned_outputs.test.ts.
export interface PinConfig {
  name: string;
  /** the configuration's own `rnn train` flags */
  flags: string[];
  /** also given to `rnn sample` and `rnn eval` */
  runFlags?: string[];
  /** also run `rnn sample` with EXTRA_SAMPLE_FLAGS */
  extraSample?: boolean;
}

export interface PinnedConfig {
  flags: string[];
  /** file → tensor name → sha256 of the tensor's raw data bytes */
  tensors: Record<string, Record<string, string>>;
  /** metrics.jsonl, verbatim */
  metrics: string;
  /** sha256 of `rnn sample` stdout */
  sample: string;
  /** sha256 of `rnn sample` stdout with EXTRA_SAMPLE_FLAGS */
  sampleExtra?: string;
  /** `rnn eval --json` stdout, verbatim */
  eval: string;
}

export const DEFAULT_RNN: string;
export const COMMON_TRAIN_FLAGS: readonly string[];
export const SAMPLE_FLAGS: readonly string[];
export const EXTRA_SAMPLE_FLAGS: readonly string[];
export const FILES: readonly string[];
export const CONFIGS: readonly PinConfig[];
export function corpusText(): string;
export function writeCorpus(dir: string): string;
export function tensorDigests(file: string): Record<string, string>;
export function runConfig(rnn: string, corpus: string, workDir: string, config: PinConfig): Promise<PinnedConfig>;
export function pinOutputs(opts?: { rnn?: string; log?: (line: string) => void }): Promise<{ configs: Record<string, PinnedConfig> }>;
