/**
 * Position fusion: GNSS (BeiDou/GPS), cell towers and Wi-Fi into one position per device with an
 * accuracy radius. Pure library: no Koa, no database, no clock (`now` is passed in).
 *
 *   new PositionFuser(radioMap, options)   per-device Kalman tracks with TTL
 *     .fuse(deviceId, observations, now)   → PositionAnswer (fix, sources, rejected, reset)
 *     .locate(observations, now)           → the same from one request, no track
 *   readPositionRequest(body)              POST /position envelope
 *   fromGoogleRequest / toGoogleResponse   Google Geolocation API request and response
 *   parseOpenCellIdCsv / readOpenCellIdCsv / parseWifiCsv   → RadioMap
 *   toDatum(answer, 'GCJ02')               CRS84 → EPSG:4490 / GCJ-02 / BD-09
 *   gpstToUtc / bdtToUtc / gpsWeekToUtc    time systems, with the leap-second table
 */

export {
  PositionFuser, fuseObservations, resolveFusionOptions, fixOf, Track,
  type FusionOptions, type ResolvedFusionOptions, type PositionAnswer, type PositionFix, type UsedObservation,
  type FixBasis, type TrackReset,
} from './fusion.ts';
export {
  readObservation, readObservationTime, DEFAULT_MEASUREMENT_OPTIONS, GNSS_SYSTEMS,
  type Observation, type GnssObservation, type CellObservation, type WifiObservation, type ObservationTime,
  type ObservationType, type GnssSystem, type RejectReason, type RejectedObservation, type Measurement, type MeasurementOptions,
} from './observation.ts';
export { readPositionRequest, MAX_OBSERVATIONS_PER_REQUEST, type PositionRequest, type PositionRequestResult } from './position-request.ts';
export {
  fromGoogleRequest, toGoogleResponse, googleNotFound, googleParseError,
  type GoogleGeolocationRequest, type GoogleGeolocationResponse, type GoogleErrorBody, type GoogleCellTower,
  type GoogleWifiAccessPoint, type GoogleRequestResult,
} from './google-geolocation.ts';
export { RadioMap, normaliseMac, parseRadioType, RADIO_TYPES, type CellTower, type WifiAccessPoint, type CellKey, type RadioLookup, type RadioType } from './radio-map.ts';
export {
  parseOpenCellIdCsv, readOpenCellIdCsv, parseWifiCsv, OpenCellIdCsvReader, OPENCELLID_COLUMNS,
  type RadioCsvReport, type CsvRowRejection, type RadioCsvOptions,
} from './radio-csv.ts';
export { toDatum, lonLatIn, parseDatum, DATUMS, type Datum } from './datum.ts';
export { ANSWER_CONFIDENCE, GOOGLE_CONFIDENCE, K68, K95, radiusFactor, convertRadius, chiSquare2 } from './confidence.ts';
export {
  gpstToUtc, bdtToUtc, utcToGpst, utcToBdt, toUtc, gpsWeekToUtc, bdtWeekToUtc, gpsLeapSecondsAtUtc,
  GPS_LEAP_SECONDS, GPS_EPOCH_MS, BDT_EPOCH_MS, GPST_MINUS_BDT_S, TIME_SYSTEMS, type TimeSystem,
} from './gnss-time.ts';
export { gnssObservationFromNmea, gnssObservationsFromNmea } from './gnss-from-nmea.ts';
export { DeviceStore, type DeviceStoreOptions } from './device-store.ts';
export { ConstantVelocityFilter } from './kalman-cv.ts';
export { ImmConstantVelocity, type ImmModels } from './kalman-imm.ts';
export { LocalFrame } from './local-frame.ts';
