import { generateDemoCity, type DemoCity } from '../../fixtures/demo-city/index.ts';
import { Geocoder } from '../../geocoder/geocoder.ts';
import { addressRecord, areaRecord, roadRecord } from '../../geocoder/records.ts';

/**
 * A geocoder over the demo city's current state straight from the generator (no database): the
 * same records the store would hand it, for the pure library tests and the evaluation set.
 */
let cached: { city: DemoCity; geocoder: Geocoder } | undefined;

export function demoGeocoder(): { city: DemoCity; geocoder: Geocoder } {
  if (cached) return cached;
  const city = generateDemoCity({});
  const current = (id: string) => city.layers.find((l) => l.meta.id === id)!.versions.filter((v) => v.validTo === null);
  const geocoder = Geocoder.build({
    addresses: current('addresses').flatMap((v) => addressRecord(v.featureId, v.attributes, v.geometry) ?? []),
    roads: current('roads').flatMap((v) => roadRecord(v.featureId, v.attributes, v.geometry) ?? []),
    areas: ['districts', 'towns', 'communities'].flatMap((id) => current(id).flatMap((v) => areaRecord(v.attributes, v.geometry) ?? [])),
  });
  cached = { city, geocoder };
  return cached;
}
