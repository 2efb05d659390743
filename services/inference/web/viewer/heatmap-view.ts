/**
 * The heat maps and Grad-CAM on the page: each picture is a button that opens it large in a modal dialog (Escape or the
 * Close button closes it, and focus goes back to the picture), and a colour key says what the colours mean.
 */
import { HeatmapKind, colourKeyText, jetGradientCss } from './heatmap-key';

/** A colour key: heading, the jet bar, its numbered ends, and what the ends mean. */
export function colourKeyElement(kind: HeatmapKind): HTMLElement {
  const text = colourKeyText(kind);
  const key = document.createElement('div');
  key.className = 'colour-key';
  key.dataset.kind = kind;
  const title = document.createElement('p');
  title.className = 'colour-key-title';
  title.textContent = text.title;
  const bar = document.createElement('div');
  bar.className = 'colour-bar';
  bar.style.background = jetGradientCss();
  // The bar itself is decoration: the numbers and the sentences below carry its meaning.
  bar.setAttribute('aria-hidden', 'true');
  const ticks = document.createElement('div');
  ticks.className = 'colour-ticks';
  ticks.setAttribute('aria-hidden', 'true');
  ticks.append(...text.ticks.map((t) => Object.assign(document.createElement('span'), { textContent: t })));
  const meaning = document.createElement('ul');
  meaning.className = 'colour-meaning';
  meaning.append(...[text.low, text.high].map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  key.append(title, bar, ticks, meaning);
  return key;
}

export interface EnlargeablePicture {
  src: string;
  alt: string;
  caption: string;
  kind: HeatmapKind;
}

/** The page's one picture dialog (`#picture-dialog` in index.html). */
export class PictureDialog {
  private opener: HTMLElement | null = null;
  private readonly title: HTMLElement;
  private readonly image: HTMLImageElement;
  private readonly key: HTMLElement;

  constructor(private readonly dialog: HTMLDialogElement) {
    this.title = dialog.querySelector<HTMLElement>('#picture-dialog-title')!;
    this.image = dialog.querySelector<HTMLImageElement>('#picture-dialog-image')!;
    this.key = dialog.querySelector<HTMLElement>('#picture-dialog-key')!;
    dialog.querySelector<HTMLButtonElement>('#picture-dialog-close')!.addEventListener('click', () => dialog.close());
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener('click', (e) => {
      if (e.target === dialog) {
        const r = dialog.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
      }
    });
    // Escape closes a modal dialog by itself; either way focus goes back to the picture that opened it.
    dialog.addEventListener('close', () => {
      this.opener?.focus();
      this.opener = null;
    });
  }

  open(picture: EnlargeablePicture, opener: HTMLElement): void {
    this.opener = opener;
    this.title.textContent = picture.caption;
    this.image.src = picture.src;
    this.image.alt = picture.alt;
    this.key.replaceChildren(colourKeyElement(picture.kind));
    this.dialog.showModal();
  }

  /** A figure whose picture is a button opening it in this dialog; the img keeps `id` (tests and tooling read it). */
  figure(picture: EnlargeablePicture, id: string): HTMLElement {
    const f = document.createElement('figure');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'enlarge';
    button.setAttribute('aria-label', `Enlarge: ${picture.alt}`);
    button.setAttribute('aria-haspopup', 'dialog');
    const img = document.createElement('img');
    img.src = picture.src;
    img.alt = picture.alt;
    img.id = id;
    img.width = 192;
    img.height = 192;
    button.append(img);
    button.addEventListener('click', () => this.open(picture, button));
    const cap = document.createElement('figcaption');
    cap.textContent = picture.caption;
    f.append(button, cap);
    return f;
  }
}
