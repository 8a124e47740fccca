/**
 * Training-set augmentation, redrawn every epoch: Gaussian noise and mixup for
 * tabular rows (in the preprocessed space), small shifts, rotations and
 * horizontal flips for small grey images (8x8 digits, in pixel space).
 */
export type Augment = "none" | "noise" | "mixup" | "shift" | "rotate" | "flip";
export const TABULAR_AUGMENTS: readonly Augment[] = ["none", "noise", "mixup"];
export const IMAGE_AUGMENTS: readonly Augment[] = ["none", "noise", "mixup", "shift", "rotate", "flip"];

export function isImageAugment(a: Augment): boolean {
  return a === "shift" || a === "rotate" || a === "flip";
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Rows plus noise of standard deviation `strength` (features are standardised). */
export function addNoise(x: number[][], strength: number, random: () => number): number[][] {
  return x.map((row) => row.map((v) => v + strength * gaussian(random)));
}

/** A Beta(a, a) sample via two Gamma draws (Marsaglia-Tsang, a > 0). */
function gamma(a: number, random: () => number): number {
  if (a < 1) return gamma(a + 1, random) * Math.pow(Math.max(random(), 1e-12), 1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = gaussian(random);
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    const u = random();
    if (Math.log(Math.max(u, 1e-12)) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * mixup: each row mixed with a random partner, lambda ~ Beta(alpha, alpha);
 * targets mixed the same way (one-hot rows for classification).
 */
export function mixup(x: number[][], targets: number[][], alpha: number, random: () => number): { x: number[][]; targets: number[][] } {
  const outX: number[][] = [];
  const outT: number[][] = [];
  for (let i = 0; i < x.length; i++) {
    const j = Math.floor(random() * x.length);
    const g1 = gamma(alpha, random);
    const g2 = gamma(alpha, random);
    const lam = g1 / (g1 + g2 || 1);
    outX.push(x[i].map((v, k) => lam * v + (1 - lam) * x[j][k]));
    outT.push(targets[i].map((v, k) => lam * v + (1 - lam) * targets[j][k]));
  }
  return { x: outX, targets: outT };
}

function sample(img: number[], h: number, w: number, r: number, c: number): number {
  const rr = Math.round(r);
  const cc = Math.round(c);
  return rr >= 0 && rr < h && cc >= 0 && cc < w ? img[rr * w + cc] : 0;
}

/** Moves the image by (dy, dx) pixels, zero filled. */
export function shiftImage(img: number[], h: number, w: number, dy: number, dx: number): number[] {
  return img.map((_, p) => sample(img, h, w, Math.floor(p / w) - dy, (p % w) - dx));
}

/** Rotates about the centre by `degrees` (nearest neighbour, zero filled). */
export function rotateImage(img: number[], h: number, w: number, degrees: number): number[] {
  const t = (degrees * Math.PI) / 180;
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  return img.map((_, p) => {
    const y = Math.floor(p / w) - cy;
    const x = (p % w) - cx;
    return sample(img, h, w, cy + Math.cos(t) * y - Math.sin(t) * x, cx + Math.sin(t) * y + Math.cos(t) * x);
  });
}

export function flipImage(img: number[], h: number, w: number): number[] {
  return img.map((_, p) => img[Math.floor(p / w) * w + (w - 1 - (p % w))]);
}

/**
 * Image augmentation of raw rows: `strength` in [0, 1] scales the largest
 * shift (1 px at 0.5+), rotation (up to 20 degrees) and the flip probability.
 */
export function augmentImages(x: number[][], shape: [number, number], kind: Augment, strength: number, random: () => number): number[][] {
  const [h, w] = shape;
  return x.map((row) => {
    if (kind === "shift") {
      const m = Math.max(1, Math.round(strength * 2));
      const dy = Math.floor(random() * (2 * m + 1)) - m;
      const dx = Math.floor(random() * (2 * m + 1)) - m;
      return shiftImage(row, h, w, dy, dx);
    }
    if (kind === "rotate") return rotateImage(row, h, w, (random() * 2 - 1) * 20 * strength);
    if (kind === "flip") return random() < 0.5 * Math.min(1, strength * 2) ? flipImage(row, h, w) : row;
    return row;
  });
}
