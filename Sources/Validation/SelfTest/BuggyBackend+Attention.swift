// The attention plants of BuggyBackend: RoPE, the softmax scale, τ, the latent norms and the row orders of the MLA
// projections (spec/attention.md, spec/rope.md), each a change to one seam of MLAAttention (its rope, σ, τ or
// weights), plus the mask and the latent cache's layout at the op boundary.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MistralSmall4
import Tensor

extension BuggyBackend {
    /// What `bug` changes in an attention block the reference built, or nil when it lives elsewhere.
    static func attentionPlant(_ bug: PlantedBug) -> (@Sendable (inout MLAAttention) -> Void)? {
        switch bug {
        case .ropeHalfSplit, .yarnRangeFromMaxPositions, .ropeCosSinMscale:
            return { attention in
                var wrong = attention.config
                switch bug {
                case .ropeHalfSplit: wrong.ropeInterleave.toggle()
                case .yarnRangeFromMaxPositions: wrong.rope.originalMaxPositionEmbeddings = wrong.maxPositionEmbeddings
                default:   // a = mscale(s, mscale) on cos/sin, as plain YaRN does, on top of σ's mscale²
                    if let yarn = wrong.rope.yarn {
                        wrong.rope.yarn?.attentionFactor = 1 + 0.1 * yarn.mscale * log(yarn.factor)
                    }
                }
                attention.rope = YarnRoPE(wrong, profile: attention.profile)
            }
        case .ropeAnglesFloat32:
            return { $0.rope.anglesInFloat32 = true }
        case .missingMscaleSquared, .softmaxScaleDeepSeekV3Width, .softmaxScaleInverted:
            return { attention in
                let (sigma, d) = (MLAAttention.softmaxScale(attention.config), Double(attention.config.qkHeadDim))
                attention.softmaxScale = switch bug {
                case .missingMscaleSquared: 1 / d.squareRoot()
                case .softmaxScaleDeepSeekV3Width: sigma * (d / 192).squareRoot()   // mscale² / sqrt(128 + 64)
                default: sigma * d                                                  // mscale² · sqrt(d)
                }
            }
        case .temperatureAtPositionPlusOne:
            return { attention in
                let (config, profile) = (attention.config, attention.profile)
                attention.temperature = { queryTemperature(position: $0 + 1, config, profile) }
            }
        case .temperatureOff:
            return { $0.temperature = { _ in 1 } }
        case .latentNormEpsilon:
            return { attention in
                let epsilon = attention.config.rmsNormEps
                attention.weights.queryNorm = attention.weights.queryNorm.map {
                    RMSNorm(weight: $0.weight, epsilon: epsilon)
                }
                attention.weights.kvNorm = RMSNorm(weight: attention.weights.kvNorm.weight, epsilon: epsilon)
            }
        case .kvUpValueFirst, .kvUpKeysThenValues:
            // kv_b [n·(d_n + d_v), r_kv], read by the reference per head as [W_UK (d_n) | W_UV (d_v)]: fed the rows
            // the port takes for each.
            return { attention in
                let config = attention.config
                let (n, dn, dv) = (config.numAttentionHeads, config.qkNopeHeadDim, config.vHeadDim)
                attention.weights.kvUp = reordered(attention.weights.kvUp) { row in
                    let (h, r) = (row / (dn + dv), row % (dn + dv))
                    return bug == .kvUpValueFirst ? h * (dn + dv) + (r < dn ? dv + r : r - dn)   // [v | k_nope]
                        : r < dn ? h * dn + r : n * dn + h * dv + r - dn                         // all k_nope, all v
                }
            }
        case .kvDownRopeFirst:   // kv_a [r_kv + d_r, H] read as [k_r | c]
            return { attention in
                let (rank, dr) = (attention.config.kvLoraRank, attention.config.qkRopeHeadDim)
                attention.weights.kvDown = reordered(attention.weights.kvDown) { $0 < rank ? dr + $0 : $0 - rank }
            }
        case .queryRopeFirst:    // q_b [n·(d_n + d_r), ·] read per head as [q_r | q_n]
            return { attention in
                let (dn, dr) = (attention.config.qkNopeHeadDim, attention.config.qkRopeHeadDim)
                attention.weights.queryUp = reordered(attention.weights.queryUp) { row in
                    let (h, r) = (row / (dn + dr), row % (dn + dr))
                    return h * (dn + dr) + (r < dn ? dr + r : r - dn)
                }
            }
        default:
            return nil
        }
    }

    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let fed = bug == .paddingVisible
            ? try ForwardInputs(inputIds: inputs.inputIds, positionIds: inputs.positionIds, config: store.config.text)
            : inputs
        let (output, latents) = try base.mlaAttention(x, inputs: fed, store: store, prefix: prefix)
        return (output, cacheLayout(latents, store.config.text))
    }

    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let (output, latents) = try base.mlaDecode(x, positions: positions, visible: visible, caches: &caches,
                                                   store: store, prefix: prefix)
        return (output, cacheLayout(latents, store.config.text))
    }

    /// The latent rows `[·, r_kv + d_r]` as the port caches them: under `kvLatentRopeInterleaved`, k_r's rotated
    /// pairs left interleaved (u'_0, v'_0, u'_1, …) where the reference holds (u'_0 … u'_{d/2−1}, v'_0 …); its
    /// queries are in the same order, so the scores (and the block's output) do not change.
    private func cacheLayout(_ latents: Tensor<Double>, _ config: TextConfig) -> Tensor<Double> {
        guard bug == .kvLatentRopeInterleaved else { return latents }
        let (rank, half, width) = (config.kvLoraRank, config.qkRopeHeadDim / 2, latents.shape[1])
        return Tensor(shape: latents.shape, scalars: latents.scalars.indices.map { i in
            let (row, column) = (i / width, i % width)
            let c = column - rank
            return latents.scalars[row * width + (c < 0 ? column : rank + (c % 2) * half + c / 2)]
        })
    }

    /// `layer` with its weight rows (and bias) in the order `source` says a port reads them.
    static func reordered(_ layer: LinearLayer, _ source: (Int) -> Int) -> LinearLayer {
        var out = layer
        out.weight = gatherRows(layer.weight, source)
        out.bias = layer.bias.map { gatherRows($0, source) }
        return out
    }
}
