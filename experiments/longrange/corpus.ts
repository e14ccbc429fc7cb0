// The long-range corpus: English-like paragraphs whose last sentence depends on the first one, with varied
// filler in between. A plain RNN forgets across the filler; an LSTM can carry the facts.
//
// Each paragraph (one line, paragraphs separated by a blank line):
//   opener   "Marie lives in Lyon, France."            introduces a name (→ gender) and a place (→ language)
//   filler   0–100 characters of impersonal sentences  no names, places, languages or gendered pronouns
//            (drawn from a pool of FILLER_POOL sentences, so once learned they cost little: what is left to
//            learn is mostly the long-range part)
//            (half the paragraphs put one filler sentence inside an aside: "(…)", "[…]" or "«…»")
//   closer   "She speaks French at home."              language, pronoun or the name again
//
// Long-range-dependent characters (what `markLongRange` returns): in the closer, the language word (fixed by
// the place), gendered pronouns (fixed by the name) and the name (fixed by the opener); and the bracket that
// closes an aside (fixed by the one that opened it). Names and places are drawn independently, so nothing
// near the closer predicts these characters.
//
// Offsets are CODE POINT offsets into the text (= token positions of src/corpus/corpus.ts): the character at
// offset i is the target predicted from characters 0..i−1.
import { makeRng, type Rng } from "../../src/rng.ts";

export const DEFAULT_BYTES = 1_000_000;
export const DEFAULT_SEED = 20240611;
/**
 * Budget for the filler between the opener and the closer, in characters (whole sentences up to the budget,
 * possibly none). The distances between a fact and the word it fixes then run from about 10 characters to
 * about 150: the short ones teach a model to keep the fact at all (a plain RNN manages those too), the long
 * ones need memory a plain RNN does not keep, and most fall within one truncated-BPTT chunk of T = 100
 * (a dependency is learnable only inside a chunk).
 */
export const FILLER_MIN = 0;
export const FILLER_MAX = 100;
/** Filler sentences are drawn from a pool of this many (made once per corpus), 0 = a fresh one each time. */
export const FILLER_POOL = 32;

export type SpanKind = "language" | "pronoun" | "name" | "bracket";

/** [start, end) in code points */
export interface DependentSpan {
  start: number;
  end: number;
  kind: SpanKind;
}

// ---- vocabulary ------------------------------------------------------------------------------------------

interface Place {
  name: string;
  language: string;
  cities: string[];
}

const PLACES: Place[] = [
  { name: "France", language: "French", cities: ["Paris", "Lyon", "Besançon", "Orléans", "Nîmes"] },
  { name: "Québec", language: "French", cities: ["Montréal", "Trois-Rivières", "Sherbrooke"] },
  { name: "Germany", language: "German", cities: ["München", "Köln", "Berlin", "Düsseldorf"] },
  { name: "Austria", language: "German", cities: ["Wien", "Graz", "Salzburg"] },
  { name: "Spain", language: "Spanish", cities: ["Madrid", "Málaga", "Córdoba", "Cádiz"] },
  { name: "Mexico", language: "Spanish", cities: ["Mérida", "Puebla", "Querétaro"] },
  { name: "Argentina", language: "Spanish", cities: ["Rosario", "Mendoza"] },
  { name: "Italy", language: "Italian", cities: ["Roma", "Napoli", "Torino", "Forlì"] },
  { name: "Portugal", language: "Portuguese", cities: ["Lisboa", "Porto", "Évora"] },
  { name: "Brazil", language: "Portuguese", cities: ["São Paulo", "Recife", "Belém"] },
  { name: "Japan", language: "Japanese", cities: ["Kyoto", "Osaka", "Sapporo"] },
  { name: "Greece", language: "Greek", cities: ["Athens", "Patras"] },
  { name: "the Netherlands", language: "Dutch", cities: ["Utrecht", "Leiden", "Groningen"] },
  { name: "Sweden", language: "Swedish", cities: ["Malmö", "Göteborg", "Uppsala"] },
  { name: "Norway", language: "Norwegian", cities: ["Tromsø", "Bergen"] },
  { name: "Finland", language: "Finnish", cities: ["Tampere", "Turku"] },
  { name: "Poland", language: "Polish", cities: ["Kraków", "Łódź", "Gdańsk"] },
  { name: "Turkey", language: "Turkish", cities: ["İzmir", "Ankara"] },
  { name: "Iceland", language: "Icelandic", cities: ["Reykjavík", "Akureyri"] },
  { name: "Hungary", language: "Hungarian", cities: ["Pécs", "Győr"] },
  { name: "Denmark", language: "Danish", cities: ["Århus", "Odense"] },
];

const FEMALE = [
  "Marie", "Zoë", "Anna", "Sofia", "Chloé", "Inès", "Léa", "Emma", "Ingrid", "Astrid", "Yuki", "Hana",
  "Maria", "Lucía", "Beatriz", "Agnieszka", "Eleni", "Renée", "Clara", "Nora", "Greta", "Olga", "Paula", "Rosa",
];
const MALE = [
  "Pierre", "Jürgen", "Lukas", "Mateo", "José", "Hiroshi", "Kenji", "Nikos", "Piotr", "Lars", "Olav", "Mehmet",
  "Jan", "Tomás", "André", "Noé", "Felix", "Emil", "Björn", "Søren", "Marco", "Pedro", "Hugo", "Victor",
];

interface Pronouns {
  S: string; // subject
  P: string; // possessive
  O: string; // object
}
const SHE: Pronouns = { S: "she", P: "her", O: "her" };
const HE: Pronouns = { S: "he", P: "his", O: "him" };
const PRONOUN_WORDS = ["he", "she", "his", "her", "him", "He", "She", "His", "Her", "Him"];

// Slots: {N} name, {C} city, {W} place, {L} language, {S}/{Sc} subject pronoun (lower/capitalised),
// {P}/{Pc} possessive, {O} object pronoun.
const OPENERS = [
  "{N} lives in {C}, {W}.",
  "{N} was born in {W}.",
  "{N} grew up in {C}, in {W}.",
  "{N} moved to {C} in {W} many years ago.",
  "{N} has always lived in {W}.",
  "This is a story about {N}, who lives in {C}, {W}.",
  "For a long time, {N} worked in {C}, {W}.",
];
// A closer never has the name and a pronoun together (the pronoun would then follow from a nearby name).
const CLOSERS = [
  "{N} speaks {L}.",
  "{Sc} speaks {L} at home.",
  "At home, {S} speaks {L}.",
  "{Pc} friends all speak {L}.",
  "That is why {N} still dreams in {L}.",
  "In the evenings, {S} reads old books in {L}.",
  "{Sc} writes long letters in {L}.",
  "Everyone there speaks {L} to {O}.",
  "{Sc} never forgot how to sing in {L}.",
  "{Pc} favourite songs are all in {L}.",
  "To this day, {N} counts in {L}.",
  "The neighbours greet {O} in {L}.",
];

const ADJ = (
  "old quiet narrow bright heavy small tall broken green yellow red blue dusty wooden famous strange tired " +
  "empty crowded distant gentle noisy cold warm wet dry ancient modern crooked silver golden soft rough lonely " +
  "busy tiny enormous pale dark clever slow patient curious careful shy proud forgotten hidden painted rusty " +
  "polished fragile sturdy fresh ordinary peculiar elegant humble restless silent muddy sunny windy frozen " +
  "faded lively"
).split(" ");
const NOUN = (
  "bridge market river window door garden tower bakery library station harbour village street square church " +
  "clock lamp table chair bicycle boat train tram bus letter parcel map book song painting fountain kitchen " +
  "roof wall fence gate field forest hill valley lake island road path shop museum theatre school factory " +
  "mill barn stable orchard vineyard meadow cat dog horse goat cow fox owl crow pigeon sparrow baker teacher " +
  "doctor farmer tailor painter musician stranger neighbour child crowd council mayor postman shopkeeper " +
  "carpenter sailor traveller guest visitor kettle basket ladder umbrella candle mirror violin piano drum " +
  "wagon barrel bucket blanket coat hat boot key stone tree flower cloud storm bell well"
).split(" ");
const PLURAL = (
  "pigeons sparrows tourists children farmers fishermen sailors students cats dogs crows goats musicians " +
  "travellers merchants workers gulls bees ducks geese neighbours bakers boats clocks lamps bells"
).split(" ");
const V_INTR = (
  "creaked collapsed vanished appeared waited rested glowed trembled whistled sang laughed wandered " +
  "disappeared shone rattled shivered slept burned floated sank fell rose broke grew faded returned stopped " +
  "changed moved shook rang hummed groaned blinked flickered drifted leaned stumbled paused"
).split(" ");
const V_TR = (
  "painted repaired carried found lost opened closed sold bought cleaned covered watched followed built moved " +
  "borrowed hid buried counted measured polished washed mended brought pushed pulled dropped lifted visited " +
  "described admired ignored noticed guarded decorated replaced inspected carved weighed wrapped"
).split(" ");
const V_PL = "gather wait sing argue sleep sit wander meet dance talk shout rest play work eat march quarrel whisper gossip linger".split(" ");
const PREP = ["near", "behind", "beside", "under", "above", "across from", "next to", "in front of", "beyond", "inside", "outside", "along", "around", "opposite"];
const ADV = [
  "loudly", "quietly", "slowly", "suddenly", "twice", "again", "at last", "without a sound", "all night",
  "for hours", "every day", "in the morning", "once more", "gently", "strangely", "happily", "sadly", "briskly",
  "carefully", "softly", "late", "early",
];
const TIME = [
  "last winter", "every spring", "one morning", "that evening", "before dawn", "after the storm", "on Sundays",
  "in the summer", "during the festival", "long ago", "the next day", "at midnight", "in the autumn",
  "every Tuesday", "at noon",
];
const WEATHER = ["It rained", "It snowed", "The wind blew hard", "Fog covered the town", "The sun came out", "Thunder rolled over the roofs"];
const NUMBER = ["two", "three", "four", "five", "seven", "ten", "twelve", "a hundred"];
const UNIT = ["morning", "evening", "week", "spring", "Sunday", "year", "market day"];
const BRACKETS: [string, string][] = [["(", ")"], ["[", "]"], ["«", "»"]];

// ---- generator ---------------------------------------------------------------------------------------------

const pick = <T>(rng: Rng, a: readonly T[]): T => a[rng.int(a.length)];
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const an = (w: string) => (/^[aeiou]/.test(w) ? "an " : "a ") + w;

/** One impersonal filler sentence. */
function filler(rng: Rng): string {
  const adj = () => pick(rng, ADJ);
  const noun = () => pick(rng, NOUN);
  const pp = () => `${pick(rng, PREP)} the ${noun()}`;
  switch (rng.int(12)) {
    case 0: return `The ${adj()} ${noun()} ${pp()} ${pick(rng, V_INTR)} ${pick(rng, ADV)}.`;
    case 1: return `${cap(pick(rng, TIME))}, the ${noun()} ${pick(rng, V_TR)} the ${adj()} ${noun()}.`;
    case 2: return `There was ${an(adj())} ${noun()} ${pp()}, and nobody knew why.`;
    case 3: return `${cap(pick(rng, PLURAL))} ${pick(rng, V_PL)} ${pp()} every ${pick(rng, UNIT)}.`;
    case 4: return `${pick(rng, WEATHER)} ${pick(rng, TIME)}.`;
    case 5: return `The ${noun()} seemed ${adj()} and ${adj()}.`;
    case 6: return `Somewhere ${pp()}, ${an(adj())} ${noun()} ${pick(rng, V_INTR)}.`;
    case 7: return `Nobody in the ${noun()} remembered the ${adj()} ${noun()}.`;
    case 8: return `The ${noun()} and the ${noun()} ${pick(rng, V_INTR)} together ${pick(rng, TIME)}.`;
    case 9: return `${cap(an(adj()))} ${noun()} is worth more than ${pick(rng, NUMBER)} ${pick(rng, PLURAL)}.`;
    case 10: return `Who ${pick(rng, V_TR)} the ${adj()} ${noun()} ${pp()}?`;
    default: return `What ${an(adj())} ${noun()} that was!`;
  }
}

/** Number of code points in s. */
export function cpLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

/**
 * Deterministic corpus of about `bytes` UTF-8 bytes (whole paragraphs: it stops after the paragraph that
 * reaches the size), with the dependent spans recorded as it is built.
 */
export function generateLongRange(
  opts: { bytes?: number; seed?: number; fillerMin?: number; fillerMax?: number; fillerPool?: number } = {},
): { text: string; spans: DependentSpan[] } {
  const fMin = opts.fillerMin ?? FILLER_MIN, fMax = opts.fillerMax ?? FILLER_MAX;
  const rng = makeRng(opts.seed ?? DEFAULT_SEED);
  const poolSize = opts.fillerPool ?? FILLER_POOL;
  const pool = Array.from({ length: poolSize }, () => filler(rng));
  const nextFiller = () => (poolSize ? pick(rng, pool) : filler(rng));
  const target = opts.bytes ?? DEFAULT_BYTES;
  const out: string[] = [];
  const spans: DependentSpan[] = [];
  let cp = 0; // code points written so far
  let bytes = 0;
  const emit = (s: string, kind?: SpanKind) => {
    const n = cpLength(s);
    if (kind) spans.push({ start: cp, end: cp + n, kind });
    out.push(s);
    cp += n;
    bytes += Buffer.byteLength(s, "utf8");
  };
  // Writes a template, recording slots listed in `dep` as dependent.
  const template = (t: string, slots: Record<string, string>, dep: Record<string, SpanKind>) => {
    for (const part of t.split(/(\{\w+\})/)) {
      const m = /^\{(\w+)\}$/.exec(part);
      if (m) emit(slots[m[1]], dep[m[1]]);
      else if (part) emit(part);
    }
  };

  while (bytes < target) {
    if (out.length) emit("\n\n");
    const female = rng.next() < 0.5;
    const name = pick(rng, female ? FEMALE : MALE);
    const pr = female ? SHE : HE;
    const place = pick(rng, PLACES);
    const slots: Record<string, string> = {
      N: name, C: pick(rng, place.cities), W: place.name, L: place.language,
      S: pr.S, Sc: cap(pr.S), P: pr.P, Pc: cap(pr.P), O: pr.O,
    };
    template(pick(rng, OPENERS), slots, {});

    // Filler: sentences while they fit in a budget of fMin–fMax characters (so none when the first does not
    // fit: about a third of the paragraphs go straight from opener to closer); maybe one inside an aside.
    const want = fMin + rng.int(fMax - fMin + 1);
    const sentences: string[] = [];
    let len = 0;
    for (let s = nextFiller(); len + s.length + 1 <= want; s = nextFiller()) {
      sentences.push(s);
      len += s.length + 1;
    }
    const aside = sentences.length > 0 && rng.next() < 0.5 ? rng.int(sentences.length) : -1;
    const br = pick(rng, BRACKETS);
    for (let i = 0; i < sentences.length; i++) {
      emit(" ");
      if (i === aside) {
        emit(br[0] + sentences[i]);
        emit(br[1], "bracket");
      } else emit(sentences[i]);
    }

    emit(" ");
    template(pick(rng, CLOSERS), slots, { N: "name", L: "language", S: "pronoun", Sc: "pronoun", P: "pronoun", Pc: "pronoun", O: "pronoun" });
  }
  emit("\n");
  return { text: out.join(""), spans };
}

// ---- marker (independent of the generator's bookkeeping: parses the text) --------------------------------

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const word = (alts: string[]) => new RegExp(`(?<!\\p{L})(?:${alts.map(escape).join("|")})(?!\\p{L})`, "gu");
const NAME_RE = word([...FEMALE, ...MALE]);
const PLACE_RE = word(PLACES.map((p) => p.name));
const PRONOUN_RE = word(PRONOUN_WORDS);
const LANGUAGE_OF = new Map(PLACES.map((p) => [p.name, p.language]));
const CLOSE_OF = new Map(BRACKETS);

/**
 * Long-range-dependent spans of a text produced by generateLongRange, found by parsing it: per paragraph,
 * after the opener sentence, every occurrence of the opener's name, of the opener's place's language and of
 * a gendered pronoun; and the bracket closing an aside. Sorted by start. Code point offsets.
 */
export function markLongRange(text: string): DependentSpan[] {
  return markWithCauses(text).map(({ start, end, kind }) => ({ start, end, kind }));
}

/** markLongRange's spans, each with `from`: the code point offset of the word or bracket that fixes it. */
function markWithCauses(text: string): (DependentSpan & { from: number })[] {
  const spans: (DependentSpan & { from: number })[] = [];
  let base = 0; // code point offset of the paragraph
  for (const par of text.split("\n\n")) {
    const cpAt = (i: number) => base + cpLength(par.slice(0, i)); // UTF-16 index in par → code point offset
    const openerEnd = par.indexOf(".") + 1;
    const opener = par.slice(0, openerEnd);
    const name = opener.match(NAME_RE)?.[0];
    const place = opener.match(PLACE_RE)?.[0];
    if (name && place) {
      const lang = LANGUAGE_OF.get(place)!;
      const nameAt = opener.search(NAME_RE), placeAt = opener.search(PLACE_RE);
      const found: [number, number, SpanKind, number][] = []; // [start, end, kind, from) as UTF-16 indices in par
      const scan = (re: RegExp, kind: SpanKind, from: number, only?: string) => {
        re.lastIndex = openerEnd;
        for (let m = re.exec(par); m; m = re.exec(par)) {
          if (only === undefined || m[0] === only) found.push([m.index, m.index + m[0].length, kind, from]);
        }
      };
      scan(NAME_RE, "name", nameAt, name);
      scan(word([lang]), "language", placeAt);
      scan(PRONOUN_RE, "pronoun", nameAt);
      for (const [open, close] of CLOSE_OF) {
        const i = par.indexOf(open, openerEnd);
        const j = i < 0 ? -1 : par.indexOf(close, i + 1);
        if (j >= 0) found.push([j, j + close.length, "bracket", i]);
      }
      for (const [s, e, kind, from] of found) spans.push({ start: cpAt(s), end: cpAt(e), kind, from: cpAt(from) });
    }
    base += cpLength(par) + 2;
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** All code point offsets covered by the spans, ascending. */
export function dependentOffsets(spans: DependentSpan[]): Int32Array {
  const out: number[] = [];
  for (const s of spans) for (let i = s.start; i < s.end; i++) out.push(i);
  return Int32Array.from(out).sort();
}

/**
 * How far back each long-range-dependent span's cause is, in code points from the start of the word or
 * bracket that fixes it to the start of the span: the opener's place for a language, the opener's name for a
 * pronoun or the name, the opening bracket for a closing one. One entry per span of markLongRange, in order.
 */
export function spanDistances(text: string): { kind: SpanKind; distance: number }[] {
  return markWithCauses(text).map((s) => ({ kind: s.kind, distance: s.start - s.from }));
}
