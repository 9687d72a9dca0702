// The limits of a conformance verdict, read from spec/tolerances.json (compiled in) — spec/conformance.md §3.

import Tensor

/// The precision a candidate computed in: it picks the row of spec/tolerances.json.
public enum CandidatePrecision: String, Sendable, CaseIterable {
    case f64, f32, bf16
}

/// NMSE limits per tolerance class and the router swap margin, for one candidate precision.
public struct Tolerances: Sendable {
    /// The NMSE limit of a class (the precision's default unless the class has its own).
    public let nmse: [ToleranceClass: Double]
    /// A changed expert set is accepted as a swap where the golden margin is below this.
    public let routerMargin: Double
    /// max |a − b| / max(|b|, floor): the floor of the relative error.
    public let relativeFloor: Double

    /// The limits for `precision`, or an error naming the field (or why the precision has no limits yet).
    public init(_ precision: CandidatePrecision, json: JSONValue? = nil) throws(GoldenError) {
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
            let why = document["uncalibrated"]?[precision.rawValue]?.stringValue ?? "no limits"
            throw GoldenError(file: file, "precision \(precision.rawValue) has no limits yet: \(why)")
        }
        guard let base = row["nmse"]?.doubleValue, let margin = row["router_margin"]?.doubleValue,
              let floor = document["relative_floor"]?.doubleValue else {
            throw GoldenError(file: file, "precisions.\(precision.rawValue) needs nmse and router_margin, "
                              + "and the file a relative_floor")
        }
        var limits = [ToleranceClass: Double]()
        for kind in ToleranceClass.allCases { limits[kind] = base }
        for (name, value) in row["class_nmse"]?.objectValue ?? [] {
            guard let kind = ToleranceClass(rawValue: name), let limit = value.doubleValue else {
                throw GoldenError(file: file, "precisions.\(precision.rawValue).class_nmse: '\(name)' is not a "
                                  + "tolerance class with a number")
            }
            limits[kind] = limit
        }
        nmse = limits
        routerMargin = margin
        relativeFloor = floor
    }
}
