#pragma once
// The umbrella header applications include: #include <ragline/ragline.hpp>

#include "ragline/ask.hpp"
#include "ragline/check.hpp"
#include "ragline/embedder.hpp"
#include "ragline/embedding.hpp"
#include "ragline/error.hpp"
#include "ragline/fusion.hpp"
#include "ragline/generation.hpp"
#include "ragline/json.hpp"
#include "ragline/knowledge_base.hpp"
#include "ragline/prompt.hpp"
#include "ragline/reranker.hpp"
#include "ragline/types.hpp"
#include "ragline/uri.hpp"
#include "ragline/version.hpp"
