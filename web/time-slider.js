/**
 * The as-of date: a slider from 2000-01-01 to today in days, a date field for an exact day, and
 * "现在" for the live city. The chosen day means the city at the end of that day in China
 * Standard Time (UTC+8), which is what a planner in Quanzhou means by "as of 2020-06-01".
 */

const START = Date.UTC(2000, 0, 1);
const DAY = 86_400_000;

/** Today's date in China Standard Time, as YYYY-MM-DD. */
function todayInChina() {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

const dayIndex = (date) => Math.round((Date.parse(`${date}T00:00:00Z`) - START) / DAY);
const dateOfIndex = (i) => new Date(START + i * DAY).toISOString().slice(0, 10);

/** The instant the server is asked for: the end of the day in UTC+8 (RFC 3339). */
export const asOfInstant = (date) => (date ? `${date}T23:59:59+08:00` : undefined);

export class TimeSlider {
  /**
   * @param {{ slider: HTMLInputElement, date: HTMLInputElement, now: HTMLButtonElement, label: HTMLElement }} els
   * @param {(date: string | null) => void} onChange  null for now
   */
  constructor(els, onChange) {
    this.els = els;
    this.onChange = onChange;
    this.date = null;
    const today = todayInChina();
    els.slider.max = String(dayIndex(today));
    els.date.min = '2000-01-01';
    els.date.max = today;
    // While dragging only the label follows; the map reloads when the slider is let go.
    els.slider.addEventListener('input', () => this.showLabel(this.sliderDate()));
    els.slider.addEventListener('change', () => this.set(this.sliderDate()));
    els.date.addEventListener('change', () => {
      if (els.date.value) this.set(els.date.value < '2000-01-01' ? '2000-01-01' : els.date.value > today ? today : els.date.value);
    });
    els.now.addEventListener('click', () => this.set(null));
    this.render();
  }

  sliderDate() {
    const i = Number(this.els.slider.value);
    return i >= Number(this.els.slider.max) ? null : dateOfIndex(i);
  }

  /** @param {string | null} date */
  set(date) {
    if (date === this.date) {
      this.render();
      return;
    }
    this.date = date;
    this.render();
    this.onChange(date);
  }

  render() {
    this.els.slider.value = String(this.date ? dayIndex(this.date) : Number(this.els.slider.max));
    this.els.date.value = this.date ?? '';
    this.els.now.disabled = this.date === null;
    this.showLabel(this.date);
  }

  showLabel(date) {
    this.els.label.textContent = date ? `显示 ${date} 当日的城市状态` : '显示现状（最新版本）';
    this.els.label.classList.toggle('past', date !== null);
  }
}
