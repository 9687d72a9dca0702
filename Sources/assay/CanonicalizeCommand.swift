// `assay canonicalize`: rewrite a safetensors file in Assay's deterministic layout.
//
// Goals, in order: the output holds exactly the input's tensors (names, dtypes, shapes, bytes) and
// metadata; it is written atomically; and the same input always gives the same output bytes.

import ArgumentParser
import Tensor

struct CanonicalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canonicalize",
        abstract: "Rewrite a safetensors file's tensors and metadata in Assay's deterministic layout.",
        discussion: """
            INPUT is fully validated, then its tensors (bytes unchanged) and __metadata__ are written to OUTPUT \
            in the layout of spec/safetensors.md, the one Python safetensors writes: data ordered by dtype \
            (widest first, as the Rust library ranks them) then name, a compact header listing __metadata__ \
            (keys sorted) and then the tensors in data order, padded with spaces to a multiple of 8 bytes.

            OUTPUT is written to a temp file beside it, fsynced and renamed into place, so it is never left \
            half-written. INPUT and OUTPUT may be the same file. Every tensor is held in memory while writing.
            """)

    @Argument(help: "The safetensors file to read.")
    var input: String

    @Argument(help: "Where to write the canonical file (replaced atomically if it exists).")
    var output: String

    func run() throws {
        let file = try SafeTensorsFile(path: input)
        var tensors: [StoredTensor] = []
        for name in file.tensorNames { tensors.append(try file.stored(name)) }
        try SafeTensorsWriter.write(tensors, metadata: file.metadata, to: output)
        print("wrote \(output): \(tensors.count) tensors")
    }
}
