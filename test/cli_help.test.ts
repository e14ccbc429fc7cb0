// `--help` says what the option table declares: every option of every command, the defaults of config.ts
// (so help cannot go stale), and examples that parse. Flags spelled as char-rnn, torch-rnn or nanoGPT spell
// them get one line naming rnn's flag. README's flag tables list every option, with config's defaults.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import {
  BENCH_DEFAULTS, DIAGNOSE_DEFAULTS, DYNAMIC_EVAL_DEFAULTS, MODEL_DEFAULTS, PREDICT_DEFAULTS, SAMPLE_DEFAULTS, SERVE_DEFAULTS, TRAIN_DEFAULTS, TRAIN_EXTRA_DEFAULTS,
  TRAIN_SAMPLE_DEFAULTS,
} from "../src/config.ts";
import { buildProgram, COMMANDS } from "../src/cli/main.ts";
import { COMMAND_NAMES, type CommandName, familiarHint, OPTIONS, optionsOf } from "../src/cli/options.ts";
import { errLines, rnn, runMain } from "./helpers/cli.ts";

async function help(command: CommandName): Promise<string> {
  const r = await runMain([command, "--help"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe("");
  return r.stdout;
}

/** The Options section of a help text: flags → description, wrapped lines joined. */
function optionLines(text: string): Map<string, string> {
  const section = text.split(/\n\n/).find((p) => p.startsWith("Options:"))!;
  const entries: string[] = [];
  for (const line of section.split("\n").slice(1)) {
    if (/^ {2}-/.test(line)) entries.push(line.trim());
    else entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return new Map(entries.map((e) => {
    const [, flags, description] = /^((?:-\w, )?--[\w-]+(?: <[^>]+>)?)\s+(.*)$/.exec(e)!;
    return [flags, description];
  }));
}

/** config.ts's defaults, per command, looked up here independently of the option table. */
const DEFAULTS: Record<CommandName, Record<string, unknown>> = {
  train: { ...MODEL_DEFAULTS, ...TRAIN_DEFAULTS, ...TRAIN_SAMPLE_DEFAULTS, ...TRAIN_EXTRA_DEFAULTS },
  sample: { ...SAMPLE_DEFAULTS },
  eval: { ...DYNAMIC_EVAL_DEFAULTS },
  predict: { ...PREDICT_DEFAULTS },
  score: {},
  info: {},
  import: { ...MODEL_DEFAULTS, ...TRAIN_DEFAULTS },
  diagnose: { ...DIAGNOSE_DEFAULTS },
  bench: { ...BENCH_DEFAULTS },
  serve: { ...SERVE_DEFAULTS },
  export: {},
};
/** "2e-3" shows 0.002, "lstm" shows "lstm" */
const shows = (text: string, v: unknown) => (typeof v === "number" ? Number(text) === v : text === String(v));

describe("--help of every command", () => {
  for (const command of COMMAND_NAMES) {
    it(`rnn ${command} --help lists every declared option, with config's defaults, and ends with examples`, async () => {
      const text = await help(command);
      const lines = optionLines(text);
      const declared = optionsOf(command);
      for (const d of declared) {
        if (d.hidden) expect([...lines.keys()], d.flags).not.toContain(d.flags);
        else expect(lines.get(d.flags), `${command} ${d.flags}`).toContain(d.help);
      }
      // nothing in help that the table does not declare (but commander's own -h)
      expect([...lines.keys()].filter((f) => f !== "-h, --help").sort()).toEqual(declared.filter((d) => !d.hidden).map((d) => d.flags).sort());
      // every default help shows as a value is config.ts's
      let fromConfig = 0;
      for (const d of declared) {
        const shown = /\(default ([^):]*)\)$/.exec(lines.get(d.flags) ?? "")?.[1];
        if (shown === undefined) continue;
        expect(d.field in DEFAULTS[command], `${command} ${d.flags} shows a default config.ts lacks`).toBe(true);
        expect(shows(shown, DEFAULTS[command][d.field]), `${command} ${d.flags}: help says ${shown}, config.ts ${DEFAULTS[command][d.field]}`).toBe(true);
        fromConfig++;
      }
      // every config default of this command that an option sets with a value is shown (or the option says why not)
      for (const d of declared) {
        if (d.field in DEFAULTS[command] && /</.test(d.flags) && d.default === undefined) {
          expect(lines.get(d.flags), `${command} ${d.flags}`).toMatch(/\(default [^):]*\)$/);
        }
      }
      expect(fromConfig).toBe(declared.filter((d) => d.field in DEFAULTS[command] && /</.test(d.flags) && d.default === undefined).length);
      // the examples close the help: two or three command lines of this command
      const tail = text.trimEnd().split("\n\n").at(-1)!.split("\n");
      expect(tail[0]).toBe("Examples:");
      expect(tail.length - 1).toBeGreaterThanOrEqual(2);
      expect(tail.length - 1).toBeLessThanOrEqual(3);
      for (const l of tail.slice(1)) expect(l).toMatch(new RegExp(`^ {2}rnn ${command}( |$)`));
    });
  }

  it("shows literally the defaults of config.ts (the ones a newcomer reads first)", async () => {
    const train = optionLines(await help("train"));
    expect(train.get("--hidden <H>")).toContain(`(default ${MODEL_DEFAULTS.hidden})`);
    expect(train.get("--cell <kind>")).toContain(`(default ${MODEL_DEFAULTS.cell})`);
    expect(train.get("--lr <rate>")).toContain("(default 2e-3)");
    expect(Number("2e-3")).toBe(TRAIN_DEFAULTS.lr);
    const sample = optionLines(await help("sample"));
    expect(sample.get("--length <n>")).toContain(`(default ${SAMPLE_DEFAULTS.length})`);
    expect(sample.get("-t, --temperature <T>")).toContain(`(default ${SAMPLE_DEFAULTS.temperature})`);
    expect(sample.get("--seed <s>")).toContain(`(default ${SAMPLE_DEFAULTS.seed})`);
    expect(optionLines(await help("diagnose")).get("--batch <B>")).toContain(`(default ${DIAGNOSE_DEFAULTS.batch})`);
    expect(optionLines(await help("bench")).get("--seconds <s>")).toContain(`(default ${BENCH_DEFAULTS.seconds})`);
  });

  it("cannot go stale: a changed default in config.ts is what help shows", () => {
    const was = MODEL_DEFAULTS.hidden;
    MODEL_DEFAULTS.hidden = 77;
    try {
      const train = buildProgram().commands.find((c) => c.name() === "train")!;
      expect(train.options.find((o) => o.long === "--hidden")!.description).toBe("hidden width (default 77)");
    } finally {
      MODEL_DEFAULTS.hidden = was;
    }
  });

  it("rnn --help ends with examples too", async () => {
    const r = await runMain(["--help"]);
    expect(r.code).toBe(0);
    const tail = r.stdout.trimEnd().split("\n\n").at(-1)!.split("\n");
    expect(tail[0]).toBe("Examples:");
    expect(tail.length - 1).toBeGreaterThanOrEqual(2);
  });

  it("every example parses: its flags are declared and their values valid", async () => {
    /** splits a command line as a shell would (double quotes only) */
    const words = (l: string) => [...l.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
    for (const [command, spec] of Object.entries(COMMANDS)) {
      for (const example of spec.examples) {
        const program = buildProgram();
        let ran = "";
        for (const c of program.commands) c.action(() => { ran = c.name(); });
        expect(words(example)[0]).toBe("rnn");
        await program.parseAsync(words(example).slice(1), { from: "user" }).catch((e) => {
          throw new Error(`${example}: ${e.message}`);
        });
        expect(ran, example).toBe(command);
      }
    }
  });

  it("the table declares each flag once per command, and the hidden --kernels once for all", () => {
    for (const command of COMMAND_NAMES) {
      const flags = optionsOf(command).flatMap((d) => d.flags.match(/--?[\w-]+/g)!);
      expect(new Set(flags).size, command).toBe(flags.length);
    }
    expect(OPTIONS.filter((d) => d.flags.startsWith("--kernels"))).toHaveLength(1);
  });
});

describe("did you mean: flags as char-rnn, torch-rnn and nanoGPT spell them", () => {
  afterEach(() => void (process.exitCode = undefined));
  const CASES: [string[], string][] = [
    [["sample", "-m", "run", "--primetext", "The"], "--prime"],
    [["sample", "-m", "run", "-primetext", "The"], "--prime"],
    [["sample", "-m", "run", "--start_text", "The"], "--prime"],
    [["sample", "-m", "run", "--start=The"], "--prime"],
    [["train", "x.txt", "--rnn_size", "512"], "--hidden"],
    [["train", "x.txt", "-rnn_size", "512"], "--hidden"],
    [["train", "x.txt", "--num_layers", "3"], "--layers"],
    [["train", "x.txt", "--n_layer=3"], "--layers"],
    [["train", "x.txt", "--seq_length", "100"], "--seq"],
    [["train", "x.txt", "--block_size=100"], "--seq"],
    [["sample", "-m", "run", "--num_samples", "3"], "-n/--count"],
    [["sample", "-m", "run", "--max_new_tokens=500"], "--length"],
    [["train", "x.txt", "--batch_size", "32"], "--batch"],
    [["diagnose", "-m", "run", "--batch_size", "32"], "--batch"],
    [["train", "x.txt", "--learning_rate", "0.01"], "--lr"],
    [["train", "x.txt", "--max_epochs", "5"], "--epochs"],
    [["train", "x.txt", "--grad_clip", "1"], "--clip"],
    // rnn's own flags with underscores or one dash, as torch.CmdLine spells them
    [["train", "x.txt", "--eval_every", "5"], "--eval-every"],
    [["sample", "-m", "run", "-temperature", "0.5"], "-t/--temperature"],
    [["sample", "-m", "run", "-length", "50"], "--length"],
    [["sample", "-m", "run", "--top_k", "5"], "--top-k"],
  ];
  for (const [args, suggestion] of CASES) {
    it(`rnn ${args.join(" ")} → did you mean ${suggestion}?`, async () => {
      const r = await runMain(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = errLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      const option = args.find((a) => a.startsWith("-") && a !== "-m" && !/^-?\d/.test(a.slice(1)))!.replace(/=.*/, "");
      expect(lines[0]).toBe(`rnn: error: unknown option '${option}'; did you mean ${suggestion}? (see --help)`);
    });
  }

  it("leaves alone what is no such name: values of rnn's options, arguments after --, other commands' flags", () => {
    expect(familiarHint(["sample", "-m", "run", "--prime", "-primetext"])).toBeNull();
    expect(familiarHint(["sample", "-m", "run", "--prime=--num_samples"])).toBeNull();
    expect(familiarHint(["train", "x.txt", "--", "--rnn_size"])).toBeNull();
    expect(familiarHint(["train", "x.txt", "--primetext", "x"])).toBeNull();
    expect(familiarHint(["sample", "-m", "run", "-t0.5", "-n3"])).toBeNull();
  });

  it("no familiar name is a flag of its own command", () => {
    for (const command of COMMAND_NAMES) {
      const own = new Set(optionsOf(command).flatMap((d) => d.flags.match(/--?[\w-]+/g)!));
      for (const d of optionsOf(command)) for (const f of d.familiar ?? []) expect(own.has(`--${f}`), `${command} --${f}`).toBe(false);
    }
  });

  it("a misspelt flag gets commander's suggestion on the same one line", async () => {
    const r = await runMain(["train", "x.txt", "--hiden", "3"]);
    expect(r.code).toBe(2);
    expect(errLines(r.stderr)).toEqual(["rnn: error: unknown option '--hiden'; did you mean --hidden? (see --help)"]);
  });

  it("the real binary: one line, exit 2, no stack trace", async () => {
    const r = await rnn(["train", "x.txt", "--rnn_size", "512"]);
    expect(r.code).toBe(2);
    expect(errLines(r.stderr)).toEqual(["rnn: error: unknown option '--rnn_size'; did you mean --hidden? (see --help)"]);
  }, 20_000);
});

describe("README's flags are the table's", () => {
  const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
  /** the README sections about a command: headings naming `rnn <command>`, up to the next heading */
  const sections = (command: CommandName) =>
    readme.split(/\n(?=#{2,3} )/).filter((s) => new RegExp(`^#{2,3} .*\`rnn ${command}[\` ]`).test(s)).join("\n");
  const spans = (text: string) => [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);

  for (const command of COMMAND_NAMES) {
    it(`every option of rnn ${command} is in its README section`, () => {
      const text = sections(command);
      expect(text, command).not.toBe("");
      const code = spans(text);
      for (const d of optionsOf(command)) {
        if (d.hidden) continue;
        const long = /--[\w-]+/.exec(d.flags)![0];
        expect(code.some((s) => new RegExp(`(^|[\\s,|/\\[])${long}(?![\\w-])`).test(s)), `${command} ${long}`).toBe(true);
      }
    });
  }

  it("the default column of the flag tables says what config.ts says", () => {
    let checked = 0;
    for (const command of COMMAND_NAMES) {
      for (const row of sections(command).split("\n").filter((l) => l.startsWith("| `-"))) {
        const [flagCell, defaultCell] = row.split(/(?<!\\)\|/).slice(1, 3).map((c) => c.trim());
        const long = /--[\w-]+/.exec(flagCell)![0];
        const d = optionsOf(command).find((o) => new RegExp(`${long}(?![\\w-])`).test(o.flags));
        expect(d, `${command} ${long}: README lists a flag the table lacks`).toBeDefined();
        if (!d || d.default !== undefined || !/</.test(d.flags) || !(d.field in DEFAULTS[command])) continue;
        const shown = defaultCell.split(",")[0].trim();
        expect(shows(shown, DEFAULTS[command][d.field]), `${command} ${long}: README says ${shown}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
