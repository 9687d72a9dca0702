// Issue 22: files that are not regular files. Inputs are refused without blocking (a FIFO with no writer), outputs
// replace only a new path or a regular file, and names from files print on one line.

import Foundation
import Testing
@testable import Tensor

@Suite struct HostileFileTests {
    /// A FIFO with no writer: opening it without O_NONBLOCK would block forever.
    private func fifo(in directory: TemporaryDirectory, _ name: String = "in.fifo") throws -> String {
        let path = directory.file(name)
        #expect(mkfifo(path, 0o644) == 0)
        return path
    }

    @Test func aFIFOIsRefusedNotWaitedOn() throws {
        let directory = try TemporaryDirectory()
        let path = try fifo(in: directory)
        #expect(throws: FileError(description: "not a regular file (a FIFO)")) { try FilePath.readRegularFile(path) }
        #expect(errorText { try SafeTensorsFile(path: path) } == "in.fifo: not a regular file (a FIFO)")
    }

    @Test func directoriesAndDevicesAreRefusedAsInputs() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: FileError(description: "not a regular file (a directory)")) {
            try FilePath.readRegularFile(directory.path)
        }
        #expect(throws: FileError(description: "not a regular file (a character device)")) {
            try FilePath.readRegularFile("/dev/null")
        }
        let missing = #expect(throws: FileError.self) { try FilePath.readRegularFile(directory.file("absent")) }
        #expect(missing?.isMissing == true && missing?.description == "cannot open: No such file or directory")
    }

    @Test func aSymlinkToARegularFileIsRead() throws {
        let directory = try TemporaryDirectory()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory.file("data")))
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: "data")
        #expect(try FilePath.readRegularFile(directory.file("link")) == [1, 2, 3])
    }

    @Test func onlyANewPathOrARegularFileIsReplaced() throws {
        let directory = try TemporaryDirectory()
        try AtomicDirectory.writeFile([1], to: directory.file("new"))
        try AtomicDirectory.writeFile([2], to: directory.file("new"))
        #expect(FileManager.default.contents(atPath: directory.file("new")) == Data([2]))
        let fifoPath = try fifo(in: directory, "out.fifo")
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: "new")
        try FileManager.default.createDirectory(atPath: directory.file("dir"), withIntermediateDirectories: false)
        let cases = [(fifoPath, "a FIFO"), (directory.file("link"), "a symbolic link"), (directory.file("dir"), "a directory"),
                     ("/dev/null", "a character device")]
        for (path, kind) in cases {
            #expect(errorText { try AtomicDirectory.writeFile([3], to: path) }
                    == "\(path): not a regular file (\(kind)); only a new path or a regular file is replaced")
        }
        #expect(try directory.names() == ["dir", "link", "new", "out.fifo"])   // nothing replaced, no temp file
        #expect(FileManager.default.contents(atPath: directory.file("new")) == Data([2]))
        var status = stat()
        #expect(lstat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
    }

    @Test func aDanglingSymlinkIsNotANewDirectory() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: directory.file("set"), withDestinationPath: "nowhere")
        #expect(errorText { try AtomicDirectory.create(directory.file("set")) { _ in } }
                == "set: already exists; choose a new directory or remove it first")
        #expect(try directory.names() == ["set"])
    }

    @Test func namesFromFilesPrintOnOneLine() {
        #expect(Escaped.line("model.layers.0") == "model.layers.0")
        #expect(Escaped.line("a\nb\tc\r\\d") == #"a\nb\tc\r\\d"#)
        #expect(Escaped.line("\u{1B}[2J\u{7F}\u{85}\u{2028}é") == #"\u{1B}[2J\u{7F}\u{85}\u{2028}é"#)
        let fake = "x\n136 taps compared, 0 failed"
        let error = SafeTensorsError(file: "a\nb.safetensors", tensor: fake, "bad\nthing")
        #expect(error.description == #"a\nb.safetensors: tensor 'x\n136 taps compared, 0 failed': bad\nthing"#)
        #expect(!error.description.contains("\n"))
    }
}
