#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"

#include "../op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

// X[seq, batch, input] and weights for `gates` gates, hidden size `hidden`, `dirs` directions.
std::vector<Expr> rnn_args(const Shape& x, int64_t input_size, int64_t hidden, int64_t dirs,
                           int64_t gates, int states) {
  std::vector<Expr> args = {
      input("X", DType::kFloat32, x),
      f32("W", {dirs, gates * hidden, input_size}),
      f32("R", {dirs, gates * hidden, hidden}),
      f32("B", {dirs, 2 * gates * hidden}),
  };
  for (int i = 0; i < states; ++i) {
    args.push_back(
        input(i == 0 ? "initial_h" : "initial_c", DType::kFloat32, {dirs, x[1], hidden}));
  }
  return args;
}

TEST(LstmTest, ForwardOutputTuple) {
  Call lstm =
      call("lstm", rnn_args({5, 3, 10}, 10, 20, 1, 4, 2), Attrs{{"hidden_size", int64_t{20}}});
  EXPECT_EQ(lstm->type(),
            Type::tuple({f32_type({5, 1, 3, 20}), f32_type({1, 3, 20}), f32_type({1, 3, 20})}));
  EXPECT_EQ(lstm->attrs.get_string("direction"), "forward");
  EXPECT_EQ(macs_of(lstm), int64_t{5} * 3 * 1 * 4 * 20 * (10 + 20));
}

TEST(LstmTest, BidirectionalOutputTuple) {
  Call lstm =
      call("lstm", rnn_args({7, 2, 16}, 16, 32, 2, 4, 2),
           Attrs{{"hidden_size", int64_t{32}}, {"direction", std::string("bidirectional")}});
  EXPECT_EQ(lstm->type(),
            Type::tuple({f32_type({7, 2, 2, 32}), f32_type({2, 2, 32}), f32_type({2, 2, 32})}));
  EXPECT_EQ(macs_of(lstm), int64_t{7} * 2 * 2 * 4 * 32 * (16 + 32));
}

TEST(LstmTest, SymbolicSequenceAndBatch) {
  Shape x = {Dim::symbol("T"), Dim::symbol("N"), 8};
  Call lstm = call("lstm", rnn_args(x, 8, 4, 1, 4, 2), Attrs{{"hidden_size", int64_t{4}}});
  const Type& y = lstm->type().fields()[0];
  EXPECT_EQ(y.as_tensor().shape, (Shape{Dim::symbol("T"), 1, Dim::symbol("N"), 4}));
  EXPECT_EQ(lstm->type().fields()[2].as_tensor().shape, (Shape{1, Dim::symbol("N"), 4}));
  EXPECT_EQ(macs_of(lstm), 0);
}

TEST(LstmTest, Errors) {
  Attrs attrs{{"hidden_size", int64_t{20}}};
  // Weights for hidden 16 against hidden_size 20.
  expect_error(
      [&] {
        call("lstm", rnn_args({5, 3, 10}, 10, 16, 1, 4, 2), attrs);
      },
      "lstm: W must have shape [1, 80, 10] [dirs, 4*hidden, input] for hidden_size 20 "
      "and 1 direction(s), got float32[1, 64, 10]");
  // One direction of weights for a bidirectional layer.
  Attrs bidirectional{{"hidden_size", int64_t{20}}, {"direction", std::string("bidirectional")}};
  expect_error(
      [&] {
        call("lstm", rnn_args({5, 3, 10}, 10, 20, 1, 4, 2), bidirectional);
      },
      "lstm: W must have shape [2, 80, 10]");
  // Input size of W differs from X.
  expect_error(
      [&] {
        call("lstm", rnn_args({5, 3, 12}, 10, 20, 1, 4, 2), attrs);
      },
      "lstm: W must have shape [1, 80, 12]");
  std::vector<Expr> args = rnn_args({5, 3, 10}, 10, 20, 1, 4, 2);
  args[5] = f32("initial_c", {1, 4, 20});
  expect_error([&] { call("lstm", args, attrs); }, "lstm: initial_c must have shape [1, 3, 20]");
  args = rnn_args({5, 3, 10}, 10, 20, 1, 4, 2);
  args[2] = input("R", DType::kFloat64, {1, 80, 20});
  expect_error([&] { call("lstm", args, attrs); }, "lstm: R has dtype float64");
  expect_error(
      [] {
        call("lstm", rnn_args({5, 3, 10}, 10, 20, 1, 4, 2),
             Attrs{{"hidden_size", int64_t{20}}, {"direction", std::string("both")}});
      },
      "lstm: direction must be one of \"forward\", \"reverse\", \"bidirectional\", got \"both\"");
  expect_error(
      [] {
        call("lstm", rnn_args({5, 3, 10}, 10, 20, 1, 4, 2));
      },
      "lstm: required attribute 'hidden_size' is missing");
  expect_error(
      [] {
        call("lstm", rnn_args({5, 3, 10}, 10, 20, 1, 4, 1));
      },
      "lstm: takes 6 arguments, got 5");
  expect_error(
      [] {
        std::vector<Expr> args = rnn_args({5, 3, 10}, 10, 20, 1, 4, 2);
        args[0] = f32("X", {3, 10});
        call("lstm", args, Attrs{{"hidden_size", int64_t{20}}});
      },
      "lstm: X [seq_length, batch_size, input_size] must have rank 3");
}

TEST(GruTest, OutputTuple) {
  Call gru = call("gru", rnn_args({5, 3, 10}, 10, 20, 1, 3, 1),
                  Attrs{{"hidden_size", int64_t{20}}, {"linear_before_reset", int64_t{1}}});
  EXPECT_EQ(gru->type(), Type::tuple({f32_type({5, 1, 3, 20}), f32_type({1, 3, 20})}));
  EXPECT_EQ(macs_of(gru), int64_t{5} * 3 * 1 * 3 * 20 * (10 + 20));
  Call reverse = call("gru", rnn_args({5, 3, 10}, 10, 20, 1, 3, 1),
                      Attrs{{"hidden_size", int64_t{20}}, {"direction", std::string("reverse")}});
  EXPECT_EQ(reverse->type().fields()[1], Type(f32_type({1, 3, 20})));
  Call bidirectional =
      call("gru", rnn_args({5, 3, 10}, 10, 20, 2, 3, 1),
           Attrs{{"hidden_size", int64_t{20}}, {"direction", std::string("bidirectional")}});
  EXPECT_EQ(bidirectional->type(), Type::tuple({f32_type({5, 2, 3, 20}), f32_type({2, 3, 20})}));
  EXPECT_EQ(macs_of(bidirectional), int64_t{5} * 3 * 2 * 3 * 20 * (10 + 20));
}

TEST(GruTest, Errors) {
  Attrs attrs{{"hidden_size", int64_t{20}}};
  // LSTM-shaped (4-gate) weights given to a GRU.
  expect_error(
      [&] {
        call("gru", rnn_args({5, 3, 10}, 10, 20, 1, 4, 1), attrs);
      },
      "gru: W must have shape [1, 60, 10] [dirs, 3*hidden, input]");
  std::vector<Expr> args = rnn_args({5, 3, 10}, 10, 20, 1, 3, 1);
  args[3] = f32("B", {1, 60});
  expect_error([&] { call("gru", args, attrs); },
               "gru: B must have shape [1, 120] [dirs, 6*hidden]");
  expect_error(
      [] {
        call("gru", rnn_args({5, 3, 10}, 10, 20, 1, 3, 1),
             Attrs{{"hidden_size", int64_t{20}}, {"linear_before_reset", int64_t{2}}});
      },
      "gru: linear_before_reset must be 0 or 1");
  expect_error(
      [] {
        call("gru", rnn_args({5, 3, 10}, 10, 20, 1, 3, 1), Attrs{{"hidden_size", int64_t{0}}});
      },
      "gru: hidden_size must be positive");
}

}  // namespace
}  // namespace kiln::ir
