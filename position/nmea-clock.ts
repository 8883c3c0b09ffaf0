/**
 * UTC from NMEA: GGA, GNS and GLL carry only the time of day, RMC adds a date with a two-digit
 * year, ZDA a full date. The clock keeps the last date seen and applies each time of day to it,
 * as gpsd does (merge_hhmmss / merge_ddmmyy): an hour that goes backwards is a midnight roll and
 * advances the day, so a GGA at 00:00:00 after one at 23:59:59 belongs to the next day even before
 * the next RMC confirms it. Until a date has been seen there is no UTC time, only a time of day.
 */

import type { NmeaDate, NmeaTimeOfDay } from './nmea-sentence.ts';

/** A point in time: whole seconds since 1970 and the nanoseconds the receiver sent. */
export interface UtcInstant {
  sec: number;
  nanos: number;
}

export class NmeaClock {
  private year = 0; // 0 = no date yet
  private month = 0; // 0–11
  private day = 0; // may run past the month end after a midnight roll; Date.UTC normalises it
  private hour = 0;
  private minute = 0;
  private second = 0;
  private nanos = 0;

  constructor(private century: number) {}

  /** True once RMC or ZDA supplied a date. */
  hasDate(): boolean {
    return this.year !== 0;
  }

  /** gpsd's test for "the date was reset": then a time means the epoch 0 (no time). */
  isCleared(): boolean {
    return this.year === 0 && this.day === 0;
  }

  /** Forgets the date (gpsd does this on Quectel's time-less "$GPRMC,,V,,…"). */
  reset(): void {
    this.year = this.month = this.day = this.hour = this.minute = this.second = this.nanos = 0;
  }

  /** Applies a time of day; false (and nothing changed) when there is none. */
  setTimeOfDay(t: NmeaTimeOfDay | null): boolean {
    if (t === null) return false;
    if (t.hour < this.hour) this.day++;
    this.hour = t.hour;
    this.minute = t.minute;
    this.second = t.second;
    this.nanos = t.nanos;
    return true;
  }

  /** RMC's ddmmyy: the century in use, rolled over after 99, and years from 2080 back a century. */
  setTwoDigitYearDate(d: NmeaDate | null): boolean {
    if (d === null) return false;
    if (this.year % 100 === 99 && d.year === 0) this.century += 100;
    let year = this.century + d.year;
    // Receivers that wrap at the 1024-week GPS rollover report 2099 for 1999; gpsd wraps at 2080.
    if (year >= 2080) year -= 100;
    this.setDate(year, d.month, d.day);
    return true;
  }

  /** ZDA's four-digit year also sets the century for later two-digit years. */
  setFullDate(d: NmeaDate): void {
    this.century = d.year - (d.year % 100);
    this.setDate(d.year, d.month, d.day);
  }

  /** The current date and time of day as an instant (mkgmtime: day overflow rolls the month). */
  now(): UtcInstant {
    return { sec: Date.UTC(this.year, this.month, this.day, this.hour, this.minute, this.second) / 1000, nanos: this.nanos };
  }

  private setDate(year: number, month: number, day: number): void {
    this.year = year;
    this.month = month - 1;
    this.day = day;
  }
}

/**
 * ISO-8601 with milliseconds, rounded as gpsd's timespec_to_iso8601 rounds: to the nearest
 * millisecond, with 999.5 ms and up carried into the next second.
 */
export function isoMilliseconds(t: UtcInstant): { iso: string; ms: number } {
  let sec = t.sec;
  let nanos = t.nanos;
  if (nanos > 999_499_999) {
    sec += 1;
    nanos = 0;
  }
  const ms = sec * 1000 + Math.floor((nanos + 500_000) / 1_000_000);
  return { iso: new Date(ms).toISOString(), ms };
}
