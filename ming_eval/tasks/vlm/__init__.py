"""The OpenCompass understanding suites (MMBench, MMStar, MMMU, MathVista, HallusionBench, AI2D, MM-Vet,
OCRBench) on VLMEvalKit's data files, scored as VLMEvalKit scores them; see docs/understanding.md."""
