#pragma once
// The umbrella header applications include: #include <ragline/ragline.hpp>

#include "ragline/embedding.hpp"
#include "ragline/error.hpp"
#include "ragline/fusion.hpp"
#include "ragline/knowledge_base.hpp"
#include "ragline/types.hpp"
