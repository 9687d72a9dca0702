// The limits of a conformance verdict, read from spec/tolerances.json (compiled in) — spec/conformance.md §3.

import MistralSmall4
import Tensor

/// NMSE limits per tolerance class and the router swap margin, for one candidate precision.
public struct Tolerances: Sendable {
    /// The NMSE limit of a class (the precision's default unless the class has its own).
    public let nmse: [ToleranceClass: Double]
    /// A changed expert set is accepted as a swap where the golden margin is below this.
    public let routerMargin: Double
    /// max |a − b| / max(|b|, floor): the floor of the relative error.
    public let relativeFloor: Double
    /// The NMSE limit of every class when the goldens are stored in float64 (f64 only): there the storage costs
    /// nothing, so float32 arithmetic is told from float64 even at short positions.
    public let nmseAgainstF64Taps: Double?
    /// The limits hold for isolated runs only (bf16: a chained run's routing swaps move every later tap), so a
    /// port's dump, which is chained, cannot be judged by them.
    public let isolatedOnly: Bool

    /// The limits for `precision`, with the class limits of `backend`'s row for that precision on top (when the
    /// file has one), or an error naming the field (or why the precision has no limits yet).
    public init(_ precision: CandidatePrecision, backend: String? = nil, json: JSONValue? = nil) throws(GoldenError) {
        let file = "tolerances.json"
        let document: JSONValue
        if let json {
            document = json
        } else {
            do { document = try JSONValue.parse(PackageResources.tolerances_json) } catch {
                throw GoldenError(file: file, error.description)
            }
        }
        guard let row = document["precisions"]?[precision.rawValue] else {
            throw GoldenError(file: file, "precision \(precision.rawValue) has no limits")
        }
        guard let base = row["nmse"]?.doubleValue, let margin = row["router_margin"]?.doubleValue,
              let floor = document["relative_floor"]?.doubleValue else {
            throw GoldenError(file: file, "precisions.\(precision.rawValue) needs nmse and router_margin, "
                              + "and the file a relative_floor")
        }
        var limits = [ToleranceClass: Double]()
        for kind in ToleranceClass.allCases { limits[kind] = base }
        let backendRow = backend.flatMap { document["backends"]?[$0]?[precision.rawValue] }
        for (path, overrides) in [("precisions.\(precision.rawValue)", row["class_nmse"]),
                                  ("backends.\(backend ?? "").\(precision.rawValue)", backendRow?["class_nmse"])] {
            for (name, value) in overrides?.objectValue ?? [] {
                guard let kind = ToleranceClass(rawValue: name), let limit = value.doubleValue else {
                    throw GoldenError(file: file, "\(path).class_nmse: '\(name)' is not a tolerance class with a number")
                }
                limits[kind] = limit
            }
        }
        nmse = limits
        isolatedOnly = row["isolated_only"] == .bool(true)
        nmseAgainstF64Taps = row["nmse_against_f64_taps"]?.doubleValue
        routerMargin = margin
        relativeFloor = floor
    }
}
