// ConfigLoading: the entry points that turn a path or bytes into a validated ModelConfig.
//
// Goals, in order: every failure is one `ConfigError` line naming the file and the field (never a trap), then one
// entry point for every source: a checkpoint directory, a config.json, a params.json, or bytes with a file name.
// Format: a name ending in `params.json` is Mistral's format, one ending in `config.json` Hugging Face's; any other
// name is decided by content (`model_type` present → Hugging Face).

#if canImport(Glibc)
import Glibc
#endif
import Tensor

extension ModelConfig {
    /// Loads and validates the config at `path`: a directory holding config.json (preferred) or params.json, or
    /// one of those files (any name; see `decode(_:fileName:)` for how the format is chosen).
    public static func load(path: String) throws(ConfigError) -> ModelConfig {
        var file = path
        if FilePath.isDirectory(path) {
            let candidates = ["config.json", "params.json"].map { FilePath.join(path, $0) }
            guard let found = candidates.first(where: FilePath.isRegularFile) else {
                let message = "holds neither config.json nor params.json"
                throw ConfigError(file: FilePath.lastComponent(path), message: message)
            }
            file = found
        }
        let name = FilePath.lastComponent(file)
        let bytes: [UInt8]
        do { bytes = try FilePath.readRegularFile(file) } catch { throw ConfigError(file: name, message: error.description) }
        return try decode(bytes, fileName: name)
    }

    /// The config of a source named on a command line: the checkpoint directory `path` (`directory`; its
    /// config.json, else params.json) or the config file `path`. A path of the other kind, or none, is the error,
    /// naming the path and what `option` takes.
    public static func load(_ path: String, directory: Bool, option: String) throws(ConfigError) -> ModelConfig {
        guard directory ? FilePath.isDirectory(path) : FilePath.isRegularFile(path) else {
            let kind = directory ? "a directory" : "a regular file"
            throw ConfigError(file: path, message: FilePath.exists(path) ? "not \(kind) (\(option))" : "does not exist")
        }
        return try load(path: path)
    }

    /// Decodes and validates config text. `fileName` starts every error message and picks the format when it ends
    /// in `config.json` or `params.json`.
    public static func decode(_ bytes: some Collection<UInt8>, fileName: String) throws(ConfigError) -> ModelConfig {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError(file: fileName, message: error.description)
        }
        let isParams = fileName.hasSuffix("params.json")
            || !fileName.hasSuffix("config.json") && document["model_type"] == nil
        return isParams
            ? try decodeMistralParams(document, source: .mistralParams(file: fileName))
            : try decodeHuggingFace(document, source: .huggingFace(file: fileName))
    }

    /// Decodes and validates a parsed Hugging Face config.json.
    static func decodeHuggingFace(_ document: JSONValue, source: ConfigSource) throws(ConfigError) -> ModelConfig {
        let naming: FieldNaming = document["model_type"] == .string("mistral4") ? .bareText : .composite
        var config = try decodeDocument(document, file: source.fileName, naming: naming) { $0 }
        config.source = source
        try config.validate()
        return config
    }

    /// Decodes and validates a parsed Mistral params.json.
    static func decodeMistralParams(_ params: JSONValue, source: ConfigSource) throws(ConfigError) -> ModelConfig {
        let translated: (document: JSONValue, isBare: Bool)
        do {
            translated = try MistralParams.translate(params)
        } catch {
            throw ConfigError(file: source.fileName, message: error.message(.mistralParams))
        }
        var config = try decodeDocument(translated.document, file: source.fileName, naming: .mistralParams) {
            MistralParams.paramsName(forDocumentPath: $0, isBare: translated.isBare)
        }
        config.source = source
        try config.validate()
        return config
    }

    /// Runs the Codable decoding, turning every failure into one line. `spell` renders a document path the way the
    /// file spells it (for decoding errors), `naming` a canonical path (for the checks done while decoding).
    private static func decodeDocument(
        _ document: JSONValue, file: String, naming: FieldNaming, spell: (String) -> String
    ) throws(ConfigError) -> ModelConfig {
        do {
            return try JSONValueDecoder().decode(ModelConfig.self, from: document)
        } catch let error as DecodingError {
            throw ConfigError(file: file, message: error.configMessage(spell: spell))
        } catch let issue as ConfigIssue {
            throw ConfigError(file: file, message: issue.message(naming))
        } catch {
            throw ConfigError(file: file, message: "\(error)")
        }
    }
}
